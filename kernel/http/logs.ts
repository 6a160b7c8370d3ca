/**
 * Run logs for the drawer: the end of each attempt's `run.log.<attempt>`,
 * and a live tail as Server-Sent Events.
 */
import { promises as fs } from "node:fs"
import { Effect, Stream } from "effect"
import type { RunLog } from "../../schemas/api.ts"
import { isActive, type JobRun } from "../../schemas/job.ts"
import { runLogFile } from "../paths.ts"
import { tailLines } from "../process/tail.ts"

/** The drawer shows this much of each attempt; the log endpoint more. */
export const DRAWER_LOG_BYTES = 64 * 1024
export const FULL_LOG_BYTES = 1024 * 1024

/** The attempt's log file, or undefined when the ids cannot name a file safely. */
export const logFileOf = (dataDir: string, run: JobRun): string | undefined => {
  try {
    return runLogFile(dataDir, run.doc_id, run.id, run.attempt)
  } catch {
    return undefined
  }
}

const readEnd = async (file: string, maxBytes: number) => {
  let handle: fs.FileHandle
  try {
    handle = await fs.open(file, "r")
  } catch {
    return { exists: false, size: 0, truncated: false, content: "" }
  }
  try {
    const { size } = await handle.stat()
    const start = Math.max(0, size - maxBytes)
    const buffer = Buffer.alloc(size - start)
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start)
    let content = buffer.subarray(0, bytesRead).toString("utf8")
    if (start > 0) {
      // Drop the partial first line the cut left behind.
      const newline = content.indexOf("\n")
      content = newline >= 0 ? content.slice(newline + 1) : content
    }
    return { exists: true, size, truncated: start > 0, content }
  } finally {
    await handle.close()
  }
}

export const readRunLog = (dataDir: string, run: JobRun, maxBytes: number): Effect.Effect<RunLog> => {
  const file = logFileOf(dataDir, run)
  const base = { run: run.id, doc: run.doc_id, attempt: run.attempt }
  if (file === undefined) return Effect.succeed({ ...base, exists: false, size: 0, truncated: false, content: "" })
  return Effect.promise(() => readEnd(file, maxBytes)).pipe(Effect.map((read) => ({ ...base, ...read })))
}

/**
 * Log lines as they are written, until the run is no longer active (then
 * what is left is drained). Emits nothing for a run whose log cannot exist.
 */
export const tailRunLog = (
  dataDir: string,
  run: JobRun,
  stillActive: Effect.Effect<boolean>
): Stream.Stream<string> => {
  const file = logFileOf(dataDir, run)
  if (file === undefined) return Stream.empty
  return tailLines(file, {
    interval: "250 millis",
    stopWhen: isActive(run.state) ? Effect.map(stillActive, (active) => !active) : Effect.succeed(true)
  })
}
