/**
 * From what Slurm and the batch job's exit file say to the executor's view.
 *
 * Precedence, for a job that has ended:
 *   1. the controller's state TIMEOUT / NODE_FAIL / OUT_OF_MEMORY / BOOT_FAIL /
 *      DEADLINE / PREEMPTED / CANCELLED: an attempt failure with a clear
 *      `errorMessage`, whatever the code (the pipeline did not end by itself);
 *   2. the exit file (`exit.json`): the code the pipeline ended with, and the
 *      launcher's verdict (a refused sandbox commit carries its message);
 *   3. the controller's `ExitCode=<code>:<signal>` when the wrapper left no
 *      file (it was SIGKILLed, or the shared filesystem lags).
 * A job neither the controller nor the filesystem knows is Lost.
 */
import type { RecordedExit } from "../../../schemas/slurm.ts"
import type { PipelineExit } from "../../ports/executor.ts"

/** States in which the job still holds (or waits for) its allocation. */
const activeStates = new Set([
  "PENDING",
  "CONFIGURING",
  "RUNNING",
  "COMPLETING",
  "SUSPENDED",
  "STOPPED",
  "RESIZING",
  "SIGNALING",
  "STAGE_OUT",
  "REQUEUED",
  "REQUEUE_HOLD",
  "REQUEUE_FED",
  "RESV_DEL_HOLD",
  "SPECIAL_EXIT"
])

export const isActiveState = (state: string): boolean => activeStates.has(state)

/** The scheduler ended it: the message routed as the attempt's error. */
const failureMessages: Readonly<Record<string, (jobId: string) => string>> = {
  TIMEOUT: (id) => `Slurm job ${id} reached its time limit (TIMEOUT)`,
  NODE_FAIL: (id) => `Slurm job ${id} failed with its compute node (NODE_FAIL)`,
  OUT_OF_MEMORY: (id) => `Slurm job ${id} ran out of memory (OUT_OF_MEMORY)`,
  BOOT_FAIL: (id) => `Slurm job ${id} could not boot its node (BOOT_FAIL)`,
  DEADLINE: (id) => `Slurm job ${id} passed its deadline (DEADLINE)`,
  PREEMPTED: (id) => `Slurm job ${id} was preempted (PREEMPTED)`,
  CANCELLED: (id) => `Slurm job ${id} was cancelled in Slurm (CANCELLED)`
}

/** `ExitCode=3:0` → code 3; `0:9` → signal 9; a malformed value is undefined. */
export const parseExitCode = (value: string): { readonly code: number; readonly signal: number } | undefined => {
  const match = /^(\d+):(\d+)$/.exec(value.trim())
  if (match === null) return undefined
  return { code: Number(match[1]), signal: Number(match[2]) }
}

const signalNames: Readonly<Record<number, string>> = { 1: "SIGHUP", 2: "SIGINT", 9: "SIGKILL", 15: "SIGTERM" }

const fromRecorded = (recorded: RecordedExit): PipelineExit => ({
  code: recorded.code,
  signal: recorded.signal,
  ...(recorded.errorMessage === undefined ? {} : { errorMessage: recorded.errorMessage })
})

export interface EndedJob {
  readonly jobId: string
  /** The controller's state; undefined when it no longer knows the job. */
  readonly state: string | undefined
  /** The controller's `ExitCode` field, when it was read. */
  readonly exitCode?: string | undefined
  readonly recorded: RecordedExit | undefined
}

/** How an ended job is routed; undefined when nothing says how it ended (Lost). */
export const exitOf = (job: EndedJob): PipelineExit | undefined => {
  const failure = job.state === undefined ? undefined : failureMessages[job.state]
  if (failure !== undefined) {
    return {
      code: job.recorded?.code ?? null,
      signal: job.recorded?.signal ?? job.recorded?.signalledBy ?? null,
      errorMessage: failure(job.jobId)
    }
  }
  if (job.recorded !== undefined) {
    if (job.recorded.signalledBy !== undefined && job.recorded.errorMessage === undefined) {
      // Signalled from outside and the controller no longer says why.
      return {
        ...fromRecorded(job.recorded),
        errorMessage: `Slurm job ${job.jobId} was ended by ${job.recorded.signalledBy} (scancel, time limit or node shutdown)`
      }
    }
    return fromRecorded(job.recorded)
  }
  const parsed = job.exitCode === undefined ? undefined : parseExitCode(job.exitCode)
  if (parsed === undefined) return undefined
  if (parsed.signal !== 0) {
    return { code: null, signal: signalNames[parsed.signal] ?? `signal ${parsed.signal}` }
  }
  return { code: parsed.code, signal: null }
}
