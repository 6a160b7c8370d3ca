/**
 * "Which pipelines are being followed right now": the executor's live view
 * (the execution host's monitors with their pids, or Slurm jobs with their
 * scheduler state), for the dashboard's jobs table and drawer.
 *
 * The question is bounded: an executor that does not answer within
 * LIVE_RUNS_TIMEOUT (host restarting, socket silent) gives an answer that
 * says so (`available: false`), never an error page, so the dashboard shows
 * "not known right now" instead of flagging every running row.
 *
 * The allocator answers from its Executor (kernel/control/server.ts for the
 * dashboard server, `liveRunsFromExecutor` when the HTTP layer runs in the
 * allocator's own process); the dashboard server asks over the control
 * socket and caches the answer briefly (kernel/dashboard/services.ts).
 */
import { Context, Duration, Effect, Layer } from "effect"
import type { StaticConfig } from "../../schemas/config.ts"
import type { LiveRunsReport } from "../../schemas/control.ts"
import { Executor, type ExecutorShape } from "../ports/executor.ts"
import { nowIso } from "../time.ts"

export const LIVE_RUNS_TIMEOUT = Duration.seconds(2)

export interface LiveRunsShape {
  readonly get: Effect.Effect<LiveRunsReport>
}

export class LiveRuns extends Context.Tag("kernel/http/LiveRuns")<LiveRuns, LiveRunsShape>() {}

export const executorKind = (config: StaticConfig): LiveRunsReport["executor"] =>
  config.executor?.kind === "slurm" ? "slurm" : "host"

const WHO: Readonly<Record<LiveRunsReport["executor"], string>> = { host: "the execution host", slurm: "the Slurm executor" }

/** One bounded question to the executor; a failure or a timeout is an answer with `available: false`. */
export const readLiveRuns = (executor: ExecutorShape, kind: LiveRunsReport["executor"]): Effect.Effect<LiveRunsReport> =>
  Effect.gen(function* () {
    const checkedAt = yield* nowIso
    const answer = yield* executor.live.pipe(
      Effect.timeoutFail({
        duration: LIVE_RUNS_TIMEOUT,
        onTimeout: () => ({ message: `${WHO[kind]} did not answer within ${Duration.format(LIVE_RUNS_TIMEOUT)}` })
      }),
      Effect.either
    )
    if (answer._tag === "Left") {
      return { executor: kind, available: false, message: answer.left.message, checkedAt, runs: [] }
    }
    const runs = answer.right.map((r) => ({
      runId: r.runId,
      docId: r.docId,
      startedAt: r.startedAt,
      ...(r.pid === undefined ? {} : { pid: r.pid }),
      ...(r.externalId === undefined ? {} : { externalId: r.externalId }),
      ...(r.externalState === undefined ? {} : { externalState: r.externalState })
    }))
    return { executor: kind, available: true, checkedAt, runs }
  })

/** In the allocator's own process: straight from its Executor. */
export const liveRunsFromExecutor = (config: StaticConfig) =>
  Layer.effect(
    LiveRuns,
    Effect.map(Executor, (executor) => ({ get: readLiveRuns(executor, executorKind(config)) }))
  )
