/** Where a run's files live under the data directory. Ids reaching the file system are checked first. */
import { join } from "node:path"
import { isSafeSegment } from "../schemas/report.ts"

export const databaseFile = (dataDir: string) => join(dataDir, "allocator.db")

/** `<dataDir>/logs/<docId>/run-<runId>/run.log.<attempt>`: one file per attempt, never shared. */
export const runLogFile = (dataDir: string, docId: string, runId: number, attempt: number): string => {
  if (!isSafeSegment(docId)) throw new Error(`unsafe document id ${JSON.stringify(docId)}`)
  return join(dataDir, "logs", docId, `run-${runId}`, `run.log.${attempt}`)
}
