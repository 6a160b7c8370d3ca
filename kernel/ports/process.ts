/**
 * The process port: the only place a pipeline process is started.
 *
 * `start` acquires a running pipeline as a scoped resource: closing the scope
 * (interruption, shutdown, a kill) ends the whole process group, SIGTERM then
 * SIGKILL after a grace, and removes any sandbox scratch. Implementations: the
 * plain executor, the bubblewrap sandbox, and the scripted simulation used by
 * replays.
 */
import { Context, Data, type Effect, type Scope } from "effect"

export class SpawnError extends Data.TaggedError("SpawnError")<{ readonly message: string }> {}

export interface PipelineSpec {
  readonly runId: number
  readonly docId: string
  readonly patientId: string
  readonly service: string
  readonly attempt: number
  /** `bash <script> <docId> <patientId> <service>` */
  readonly script: string
  readonly env: Readonly<Record<string, string>>
  /** This attempt's own log file (`.../run.log.<attempt>`); stdout and stderr go here. */
  readonly logFile: string
}

export interface PipelineExit {
  /** null when the process was ended by a signal. */
  readonly code: number | null
  readonly signal: string | null
}

export interface RunningPipeline {
  readonly pid: number | undefined
  /** Completes when the process exits. */
  readonly exit: Effect.Effect<PipelineExit>
}

export interface ProcessPortShape {
  readonly start: (spec: PipelineSpec) => Effect.Effect<RunningPipeline, SpawnError, Scope.Scope>
  /** Removes scratch left behind by a crash (rule 10). Returns how many were removed. */
  readonly sweepStale: Effect.Effect<number>
}

export class ProcessPort extends Context.Tag("kernel/ProcessPort")<ProcessPort, ProcessPortShape>() {}
