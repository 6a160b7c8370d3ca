/**
 * TEMPORARY (issue 11): an `Executor` over the old scoped `ProcessPort`, so
 * production and the integration tests keep running until the execution
 * host's client (`kernel/exechost/client.ts`, `ExecHostExecutorLive`) lands.
 * Remove this file, and `kernel/ports/process.ts` once nothing else uses it,
 * when the allocator runs on the real client.
 *
 * It keeps the first build's weakness on purpose: pipelines are still
 * children of the allocator and live in this layer's scope, so they die
 * with it. A run this adapter does not know (started by an earlier
 * allocator) is therefore reported `Lost`: its process ended with that
 * allocator, as rule 10 treated every running row before the amendment.
 */
import { Clock, Deferred, Effect, ExecutionStrategy, Exit, Layer, Option, Ref, Scope } from "effect"
import { Executor, type ExecutorShape, type LiveRun, SpawnError, type RunStatus } from "../ports/executor.ts"
import { ProcessPort } from "../ports/process.ts"
import { isoFromMillis } from "../time.ts"

type Ended = Extract<RunStatus, { _tag: "Exited" | "Lost" }>

interface AdapterRun {
  readonly docId: string
  readonly pid: number | undefined
  readonly startedAt: string
  readonly scope: Scope.CloseableScope
  readonly ended: Deferred.Deferred<Ended>
}

export const LOST_WITH_ALLOCATOR = "allocator stopped while the pipeline was running"

export const temporaryExecutorLayer: Layer.Layer<Executor, never, ProcessPort> = Layer.scoped(
  Executor,
  Effect.gen(function* () {
    const port = yield* ProcessPort
    const layerScope = yield* Effect.scope
    const runs = yield* Ref.make<ReadonlyMap<number, AdapterRun>>(new Map())
    // What the old start-up recovery did: stale sandbox scratch and orphans of a crashed allocator go.
    const swept = yield* port.sweepStale
    if (swept > 0) yield* Effect.logInfo(`removed ${swept} stale pipeline leftover(s) of an earlier allocator`)

    const statusOf = (run: AdapterRun): Effect.Effect<RunStatus> =>
      Effect.flatMap(
        Deferred.poll(run.ended),
        Option.match({ onNone: () => Effect.succeed<RunStatus>({ _tag: "Running", pid: run.pid }), onSome: (ended) => ended })
      )

    const executor: ExecutorShape = {
      start: (spec) =>
        Effect.gen(function* () {
          const scope = yield* Scope.fork(layerScope, ExecutionStrategy.sequential)
          const started = yield* port.start(spec).pipe(Scope.extend(scope), Effect.either)
          if (started._tag === "Left") {
            yield* Scope.close(scope, Exit.void)
            return yield* new SpawnError({ message: started.left.message })
          }
          const ended = yield* Deferred.make<Ended>()
          const startedAt = isoFromMillis(yield* Clock.currentTimeMillis)
          yield* Ref.update(runs, (m) => new Map([...m, [spec.runId, { docId: spec.docId, pid: started.right.pid, startedAt, scope, ended }]]))
          // Not tied to a scope: a port's exit may be uninterruptible until the process is gone, and
          // closing the run's scope is what ends the process.
          yield* started.right.exit.pipe(
            Effect.flatMap((exit) => Deferred.succeed(ended, { _tag: "Exited", exit })),
            Effect.forkDaemon
          )
          return { _tag: "Running", pid: started.right.pid } as const
        }),
      awaitExit: (runId) =>
        Effect.flatMap(Ref.get(runs), (m) => {
          const run = m.get(runId)
          return run === undefined ? Effect.succeed({ _tag: "Lost", message: LOST_WITH_ALLOCATOR } as const) : Deferred.await(run.ended)
        }),
      kill: (runId) =>
        Effect.gen(function* () {
          const run = (yield* Ref.get(runs)).get(runId)
          if (run === undefined) return
          // Closing the run's scope ends its process group (SIGTERM, then SIGKILL after the port's grace).
          yield* Scope.close(run.scope, Exit.void)
          yield* Deferred.succeed(run.ended, { _tag: "Exited", exit: { code: null, signal: "SIGTERM" } })
        }),
      status: (runIds) =>
        Effect.gen(function* () {
          const m = yield* Ref.get(runs)
          const out = new Map<number, RunStatus>()
          for (const id of runIds) {
            const run = m.get(id)
            out.set(id, run === undefined ? { _tag: "Lost", message: LOST_WITH_ALLOCATOR } : yield* statusOf(run))
          }
          return out
        }),
      acknowledge: (runId) =>
        Effect.gen(function* () {
          const run = (yield* Ref.get(runs)).get(runId)
          if (run === undefined || !(yield* Deferred.isDone(run.ended))) return
          yield* Scope.close(run.scope, Exit.void)
          yield* Ref.update(runs, (m) => {
            const rest = new Map(m)
            rest.delete(runId)
            return rest
          })
        }),
      live: Effect.gen(function* () {
        const out: Array<LiveRun> = []
        for (const [runId, run] of yield* Ref.get(runs)) {
          if (!(yield* Deferred.isDone(run.ended))) out.push({ runId, docId: run.docId, pid: run.pid, startedAt: run.startedAt })
        }
        return out
      })
    }
    return executor
  })
)
