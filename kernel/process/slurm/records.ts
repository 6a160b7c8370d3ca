/**
 * The Slurm executor's durable record of each attempt, on the shared
 * filesystem, so that a restarted allocator (or one that never saw the job
 * end) can answer for it:
 *
 *   <stateDir>/run-<runId>/attempt.json   what the compute node runs (written before sbatch)
 *                          batch.sh       the batch script sbatch was given
 *                          job-id         Slurm's job id (written after sbatch, and by the job itself)
 *                          exit.json      the exit status (written by the job before it ends)
 *
 * Every file is written to a temporary name and renamed, so a reader sees a
 * whole file or none. `acknowledge` removes the folder.
 */
import { promises as fs } from "node:fs"
import { join } from "node:path"
import { Effect, Either, Schema } from "effect"
import { AttemptFile, RecordedExit } from "../../../schemas/slurm.ts"

export const runDir = (stateDir: string, runId: number): string => join(stateDir, `run-${runId}`)

export const attemptPath = (dir: string) => join(dir, "attempt.json")
export const batchScriptPath = (dir: string) => join(dir, "batch.sh")
export const jobIdPath = (dir: string) => join(dir, "job-id")
export const exitPath = (dir: string) => join(dir, "exit.json")

/** Atomic write (temporary file, fsync, rename) with the given mode. */
export const writeAtomic = (file: string, text: string, mode = 0o644): Promise<void> => {
  const temp = `${file}.tmp-${process.pid}`
  return fs.open(temp, "w", mode).then(async (handle) => {
    try {
      await handle.writeFile(text)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await fs.rename(temp, file)
  })
}

const readText = (file: string): Effect.Effect<string | undefined> =>
  Effect.promise(() => fs.readFile(file, "utf8").then((t) => t as string | undefined, () => undefined))

const decodeExit = Schema.decodeUnknownEither(Schema.parseJson(RecordedExit))
const decodeAttempt = Schema.decodeUnknownEither(Schema.parseJson(AttemptFile))

export interface RunRecord {
  readonly runId: number
  readonly attempt: AttemptFile | undefined
  readonly jobId: string | undefined
  readonly exit: RecordedExit | undefined
}

export const readJobId = (dir: string): Effect.Effect<string | undefined> =>
  Effect.map(readText(jobIdPath(dir)), (t) => {
    const id = t?.trim()
    return id === undefined || id === "" ? undefined : id
  })

/**
 * The exit file, if the job wrote one. A file that does not parse (written by
 * hand, a different version) is reported as an exit with that error, never
 * ignored: the job did end.
 */
export const readExit = (dir: string): Effect.Effect<RecordedExit | undefined> =>
  Effect.map(readText(exitPath(dir)), (text) => {
    if (text === undefined) return undefined
    return Either.match(decodeExit(text), {
      onRight: (exit) => exit,
      onLeft: (error) => ({
        code: null,
        signal: null,
        errorMessage: `unreadable exit file ${exitPath(dir)}: ${error.message.split("\n")[0] ?? ""}`,
        host: "",
        finishedAt: ""
      })
    })
  })

export const readAttempt = (dir: string): Effect.Effect<AttemptFile | undefined> =>
  Effect.map(readText(attemptPath(dir)), (text) =>
    text === undefined ? undefined : Either.getOrUndefined(decodeAttempt(text))
  )

export const readRecord = (stateDir: string, runId: number): Effect.Effect<RunRecord> => {
  const dir = runDir(stateDir, runId)
  return Effect.map(
    Effect.all([readAttempt(dir), readJobId(dir), readExit(dir)], { concurrency: "unbounded" }),
    ([attempt, jobId, exit]) => ({ runId, attempt, jobId, exit })
  )
}

export const removeRecord = (stateDir: string, runId: number): Effect.Effect<void> =>
  Effect.promise(() => fs.rm(runDir(stateDir, runId), { recursive: true, force: true }))
