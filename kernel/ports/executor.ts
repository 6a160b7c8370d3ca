/**
 * The executor contract: how the kernel hands an attempt to whatever runs
 * pipelines, and learns how it ended. Pipelines are never children of the
 * kernel; they outlive it (rule 10 as amended). Implementations:
 *
 * - the execution-host client (`kernel/exechost/`): local pipelines, each
 *   under its own monitor that records the exit status durably;
 * - the Slurm executor (`kernel/process/slurm/`): one batch job per attempt;
 * - the in-memory double used by replays and fast tests.
 *
 * One contract suite (`test/contract/executor.contract.ts`) runs against
 * every implementation.
 *
 * Life of one attempt, as the executor sees it:
 *
 *   start ──▶ Running ──▶ Exited(exit) ──acknowledge──▶ forgotten
 *                 │
 *                 └──────▶ Lost (gone with no recorded exit: reboot, host killed)
 *
 * An exit stays recorded (and is reported again after a kernel restart) until
 * the kernel acknowledges it, which it does only once the outcome is stored.
 */
import { Context, Data, type Duration, type Effect } from "effect"

export class SpawnError extends Data.TaggedError("SpawnError")<{ readonly message: string }> {}

/** The executor cannot be reached (host down, controller down). Nothing was started or changed. */
export class ExecutorUnavailable extends Data.TaggedError("ExecutorUnavailable")<{ readonly message: string }> {}

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
  /**
   * Set when the executor itself failed the attempt whatever the code says:
   * a refused sandbox commit, a time limit, out of memory, a node failure.
   * Routed as an attempt failure with this text as `error_message`.
   */
  readonly errorMessage?: string | undefined
}

export type RunStatus =
  /** Alive and followed; its exit will be reported. */
  | { readonly _tag: "Running"; readonly pid?: number | undefined; readonly externalId?: string | undefined }
  /** Ended; the recorded exit waits for `acknowledge`. */
  | { readonly _tag: "Exited"; readonly exit: PipelineExit }
  /** Started once, gone now, no exit recorded: a crash victim. */
  | { readonly _tag: "Lost"; readonly message: string }
  /** Never started (or already acknowledged): the executor has no record of it. */
  | { readonly _tag: "Unknown" }

export interface LiveRun {
  readonly runId: number
  readonly docId: string
  readonly pid?: number | undefined
  /** Slurm job id, when the executor is Slurm. */
  readonly externalId?: string | undefined
  readonly externalState?: string | undefined
  readonly startedAt: string
}

export interface ExecutorShape {
  /** Starts the attempt. Once this succeeds, the pipeline runs until it exits or is killed; the caller's fate does not matter. */
  readonly start: (spec: PipelineSpec) => Effect.Effect<RunStatus, SpawnError | ExecutorUnavailable>
  /** Waits for the run's exit (started by this kernel or an earlier one). Succeeds with Lost/Exited; never with Running/Unknown. */
  readonly awaitExit: (runId: number) => Effect.Effect<Extract<RunStatus, { _tag: "Exited" | "Lost" }>, ExecutorUnavailable>
  /** SIGTERM to the whole process group (scancel), a grace, then SIGKILL. Resolves when it is gone. */
  readonly kill: (runId: number, grace: Duration.Duration) => Effect.Effect<void, ExecutorUnavailable>
  /** What the executor knows of these runs, for start-up recovery (rule 10). */
  readonly status: (runIds: ReadonlyArray<number>) => Effect.Effect<ReadonlyMap<number, RunStatus>, ExecutorUnavailable>
  /** The outcome is stored in SQLite: the executor may forget the run. */
  readonly acknowledge: (runId: number) => Effect.Effect<void, ExecutorUnavailable>
  /** Runs being followed right now (dashboard). */
  readonly live: Effect.Effect<ReadonlyArray<LiveRun>, ExecutorUnavailable>
  /**
   * Runs that ended and wait for `acknowledge`, for start-up recovery: an
   * allocator that died between storing an outcome and acknowledging it left
   * them, and no worker follows their (no longer running) rows. Optional: an
   * executor without it keeps such records until it forgets them itself.
   */
  readonly unacknowledged?: Effect.Effect<ReadonlyArray<number>, ExecutorUnavailable>
}

export class Executor extends Context.Tag("kernel/Executor")<Executor, ExecutorShape>() {}
