/**
 * Orphans of a crashed daemon. A plain pipeline runs in its own process
 * group, detached, so a SIGKILLed allocator leaves it running; recovery would
 * then start the next attempt beside it on the same patient trees. Every
 * pipeline carries LOMI_ALLOCATOR_INSTANCE in its environment (inherited by
 * its children); at start-up, before any new pipeline exists, whatever still
 * carries this instance's tag is a leftover and its group is killed.
 */
import { Effect } from "effect"
import { readdirSync, readFileSync } from "node:fs"

export const INSTANCE_VAR = "LOMI_ALLOCATOR_INSTANCE"

const readOr = (file: string): string | undefined => {
  try {
    return readFileSync(file, "latin1")
  } catch {
    return undefined
  }
}

/** Field 5 of /proc/<pid>/stat, after the parenthesised command name. */
const processGroupOf = (stat: string): number | undefined => {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const pgid = Number(fields[2])
  return Number.isInteger(pgid) && pgid > 0 ? pgid : undefined
}

const tryKill = (target: number) => {
  try {
    process.kill(target, "SIGKILL")
  } catch {
    // Already gone.
  }
}

/** Kills every process group holding a process tagged with `instance`; returns how many processes were tagged. */
export const killOrphans = (instance: string): Effect.Effect<number> =>
  Effect.sync(() => {
    const tag = `${INSTANCE_VAR}=${instance}\0`
    let found = 0
    for (const entry of readdirSync("/proc")) {
      const pid = Number(entry)
      if (!Number.isInteger(pid) || pid === process.pid) continue
      const environ = readOr(`/proc/${pid}/environ`)
      if (environ === undefined || !environ.includes(tag)) continue
      found += 1
      const pgid = processGroupOf(readOr(`/proc/${pid}/stat`) ?? "")
      if (pgid !== undefined && pgid !== process.pid) tryKill(-pgid)
      tryKill(pid)
    }
    return found
  }).pipe(
    Effect.tap((found) =>
      found > 0 ? Effect.logWarning(`killed ${found} pipeline process(es) left running by a previous allocator`) : Effect.void
    )
  )
