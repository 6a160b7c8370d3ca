/**
 * The in-memory executor for replays and fast tests: a simulated execution
 * host. Each start takes the document's next scripted outcome (an exit code
 * after a duration, or a hang until killed). It writes no files and spawns
 * nothing; time passes on the Clock.
 *
 * The host lives in the replay's world, not in the allocator's scope, so its
 * runs outlive an allocator restart exactly as pipelines outlive the kernel
 * under the real execution host. Life of one run here:
 *
 *   start ──▶ Running ──(scripted exit / kill)──▶ Exited ──acknowledge──▶ forgotten
 *                 │
 *                 └──(machine crash)──▶ Lost (no exit recorded)
 *
 * Exits recorded while no allocator follows them stay until acknowledged.
 * A second client of the same host (a restarted allocator) sees the same runs.
 */
import { Clock, Context, Deferred, Duration, Effect, Fiber, Layer, type Scope } from "effect"
import {
  Executor,
  type ExecutorShape,
  ExecutorUnavailable,
  type LiveRun,
  type PipelineExit,
  type PipelineSpec,
  type RunStatus
} from "../ports/executor.ts"
import { isoFromMillis } from "../time.ts"

export type SimOutcome =
  | {
      readonly _tag: "Exit"
      readonly code: number
      readonly after: Duration.Duration
      /** The executor fails the attempt whatever the code says (a refused sandbox commit, a time limit). */
      readonly errorMessage?: string | undefined
    }
  | { readonly _tag: "Hang" }

export const DEFAULT_OUTCOME: SimOutcome = { _tag: "Exit", code: 0, after: Duration.minutes(1) }

/** Why a run the machine crash took has no exit: the wording lands in the row's error_message. */
export const LOST_IN_CRASH = "the machine stopped while the pipeline was running; no exit status was recorded"

type Ended = Extract<RunStatus, { _tag: "Exited" | "Lost" }>

interface HostRun {
  readonly spec: PipelineSpec
  readonly startedAt: string
  readonly status: RunStatus
  readonly ended: Deferred.Deferred<Ended>
  readonly timer: Fiber.RuntimeFiber<void> | undefined
}

export interface SimHostShape {
  /** Appends scripted outcomes for a document's next runs. */
  readonly append: (docId: string, outcomes: ReadonlyArray<SimOutcome>) => Effect.Effect<void>
  /** The machine dies: every running pipeline vanishes with no exit recorded. Recorded exits survive (they are on disk). */
  readonly crash: Effect.Effect<void>
  /** The host stops answering (its process restarting): every request fails with ExecutorUnavailable; pipelines run on. */
  readonly setUnavailable: (unavailable: boolean) => Effect.Effect<void>
}

export class SimHost extends Context.Tag("kernel/replay/SimHost")<SimHost, SimHostShape>() {}

// The host's books are plain mutable maps, touched only inside Effect.sync: a replay runs on one thread,
// and copying a whole map per run (the Ref-of-immutable-Map version) made each start cost O(history).
const makeSimHost = (scope: Scope.Scope) =>
  Effect.gen(function* () {
    const scripts = new Map<string, Array<SimOutcome>>()
    const runs = new Map<number, HostRun>()
    let unavailable = false
    /** A request to a host that does not answer changes nothing. */
    const answer = <A>(request: Effect.Effect<A>): Effect.Effect<A, ExecutorUnavailable> =>
      Effect.suspend(() =>
        unavailable ? Effect.fail(new ExecutorUnavailable({ message: "the execution host does not answer (simulated)" })) : request
      )

    const takeNext = (docId: string) =>
      Effect.sync((): SimOutcome => scripts.get(docId)?.shift() ?? DEFAULT_OUTCOME)

    /** Ends a running run once; a run that already ended keeps its first ending. */
    const end = (runId: number, ending: Ended) =>
      Effect.suspend(() => {
        const run = runs.get(runId)
        if (run === undefined || run.status._tag !== "Running") return Effect.void
        runs.set(runId, { ...run, status: ending, timer: undefined })
        return Deferred.succeed(run.ended, ending)
      })

    const exitWith = (runId: number, exit: PipelineExit) => end(runId, { _tag: "Exited", exit })

    const stopTimer = (run: HostRun) => (run.timer === undefined ? Effect.void : Fiber.interrupt(run.timer))

    const executor: ExecutorShape = {
      start: (spec) =>
        answer(Effect.gen(function* () {
          const known = runs.get(spec.runId)
          if (known !== undefined) return known.status
          const outcome = yield* takeNext(spec.docId)
          const ended = yield* Deferred.make<Ended>()
          const startedAt = isoFromMillis(yield* Clock.currentTimeMillis)
          runs.set(spec.runId, { spec, startedAt, status: { _tag: "Running" }, ended, timer: undefined })
          if (outcome._tag === "Exit") {
            const exit: PipelineExit = {
              code: outcome.code,
              signal: null,
              ...(outcome.errorMessage !== undefined ? { errorMessage: outcome.errorMessage } : {})
            }
            // The pipeline's own clock runs in the host, whatever happens to the caller.
            const timer = yield* Effect.sleep(outcome.after).pipe(Effect.zipRight(exitWith(spec.runId, exit)), Effect.forkIn(scope))
            const run = runs.get(spec.runId)
            if (run !== undefined && run.status._tag === "Running") runs.set(spec.runId, { ...run, timer })
          }
          return { _tag: "Running" } as const
        })),
      awaitExit: (runId) =>
        answer(Effect.suspend(() => {
          const run = runs.get(runId)
          if (run === undefined) return Effect.succeed({ _tag: "Lost", message: `the execution host has no record of run ${runId}` } as const)
          if (run.status._tag === "Running") return Deferred.await(run.ended)
          return Effect.succeed(run.status as Ended)
        })),
      kill: (runId, _grace) =>
        answer(Effect.suspend(() => {
          const run = runs.get(runId)
          if (run === undefined || run.status._tag !== "Running") return Effect.void
          // A simulated pipeline obeys SIGTERM at once.
          return Effect.zipRight(stopTimer(run), exitWith(runId, { code: null, signal: "SIGTERM" }))
        })),
      status: (runIds) =>
        answer(Effect.sync(() => new Map(runIds.map((id): [number, RunStatus] => [id, runs.get(id)?.status ?? { _tag: "Unknown" }])))),
      acknowledge: (runId) =>
        answer(Effect.sync(() => {
          const run = runs.get(runId)
          if (run !== undefined && run.status._tag !== "Running") runs.delete(runId)
        })),
      live: answer(
        Effect.sync(() =>
          [...runs.values()]
            .filter((r) => r.status._tag === "Running")
            .map((r): LiveRun => ({ runId: r.spec.runId, docId: r.spec.docId, startedAt: r.startedAt }))
        )
      )
    }

    const host: SimHostShape = {
      append: (docId, outcomes) =>
        Effect.sync(() => {
          scripts.set(docId, [...(scripts.get(docId) ?? []), ...outcomes])
        }),
      crash: Effect.suspend(() =>
        Effect.forEach(
          [...runs.values()].filter((run) => run.status._tag === "Running"),
          (run) => Effect.zipRight(stopTimer(run), end(run.spec.runId, { _tag: "Lost", message: LOST_IN_CRASH })),
          { discard: true }
        )
      ),
      setUnavailable: (down) =>
        Effect.sync(() => {
          unavailable = down
        })
    }
    return Context.make(Executor, executor).pipe(Context.add(SimHost, host))
  })

/** One simulated host and its executor; both live as long as the layer's scope (the replay's world). */
export const simHostLayer: Layer.Layer<Executor | SimHost> = Layer.scopedContext(Effect.flatMap(Effect.scope, makeSimHost))
