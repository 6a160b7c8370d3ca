/**
 * Gives the dashboard server's memory back once a load is over (issue 12:
 * under 80 MiB at rest, flat under load).
 *
 * Under 200 clients V8 grows old space with promoted request garbage and
 * keeps it committed: measured 10 s after a load, 45 MiB of heap committed
 * for 25 MiB alive, and the RSS stayed at the load's peak. Its own memory
 * reducer gives it back only after tens of seconds of a near-zero
 * allocation rate, which the SSE heartbeats and the kernel link's events
 * never quite leave it, and a plain full collection (`gc()`) frees the
 * garbage but keeps the pages. The collection that compacts and uncommits is
 * the low-memory one, which the inspector's HeapProfiler.collectGarbage runs
 * (in process, no port opened; no V8 flag needed).
 *
 * The rule, checked once per sampleEvery (a sample is the V8 heap's
 * committed size and the event loop's utilisation since the last sample):
 * 1. a sample with utilisation under idleUtilization is quiet; any other
 *    resets the count of quiet samples (a load is still on);
 * 2. after quietSamples quiet samples in a row, if at least minSamplesBetween
 *    samples have passed since the last collection and the heap has grown
 *    by growthBytes or more above the baseline, one collection runs, and the
 *    baseline becomes what is committed right after it;
 * 3. the baseline also follows the heap down when V8 shrinks it on its own;
 * 4. start-up counts as a load (baseline zero, no wait): what loading and
 *    compiling the bundle left behind goes at the first quiet moment.
 *
 * So a loaded server is never interrupted by it (its own collections pace
 * it), a resting one pays at most one collection per minSamplesBetween, and
 * a load's memory is given back a few seconds after the load. The
 * collection blocks the event loop for a few hundred milliseconds on this
 * busy 2-core machine: acceptable at rest, which is the only time it runs.
 */
import { Duration, Effect, Layer } from "effect"
import { Session } from "node:inspector"
import { performance, type EventLoopUtilization } from "node:perf_hooks"
import { getHeapStatistics } from "node:v8"

const MiB = 1024 * 1024

export const IDLE_COLLECTOR_RULES = {
  sampleEvery: Duration.seconds(1),
  idleUtilization: 0.05,
  quietSamples: 2,
  minSamplesBetween: 10,
  growthBytes: 8 * MiB
} as const

export type IdleCollectorRules = typeof IDLE_COLLECTOR_RULES

export interface HeapSample {
  /** Bytes of V8 heap committed (in use, garbage not yet collected, and free pages V8 keeps). */
  readonly heapCommitted: number
  /** The event loop's utilisation (0-1) since the previous sample. */
  readonly utilization: number
}

export interface CollectorState {
  readonly baseline: number
  readonly quiet: number
  /** Samples since the last collection (or since the start). */
  readonly since: number
}

/** Rules 1-3 for one sample: the next state, and whether to collect now. */
export const step = (
  state: CollectorState,
  sample: HeapSample,
  rules: Omit<IdleCollectorRules, "sampleEvery"> = IDLE_COLLECTOR_RULES
): { readonly state: CollectorState; readonly collect: boolean } => {
  const quiet = sample.utilization < rules.idleUtilization ? state.quiet + 1 : 0
  const since = state.since + 1
  const baseline = Math.min(state.baseline, sample.heapCommitted)
  const collect =
    quiet >= rules.quietSamples && since >= rules.minSamplesBetween && sample.heapCommitted - baseline >= rules.growthBytes
  return { state: collect ? { baseline, quiet: 0, since: 0 } : { baseline, quiet, since }, collect }
}

/**
 * The loop: `sample` every rules.sampleEvery, `collect` when `step` says so,
 * then the baseline is the heap committed right after. Runs until interrupted.
 */
export const idleCollector = (
  sample: Effect.Effect<HeapSample>,
  collect: Effect.Effect<void>,
  rules: IdleCollectorRules = IDLE_COLLECTOR_RULES
): Effect.Effect<never> =>
  Effect.suspend(() => {
    let state: CollectorState = { baseline: 0, quiet: 0, since: rules.minSamplesBetween }
    const tick = Effect.gen(function* () {
      const next = step(state, yield* sample, rules)
      state = next.state
      if (next.collect) {
        yield* collect
        state = { ...state, baseline: (yield* sample).heapCommitted }
      }
    })
    return Effect.forever(Effect.zipRight(Effect.sleep(rules.sampleEvery), tick))
  })

/** This process's heap and event loop. */
const processSample = (): Effect.Effect<HeapSample> => {
  let mark: EventLoopUtilization = performance.eventLoopUtilization()
  return Effect.sync(() => {
    const elu = performance.eventLoopUtilization(mark)
    mark = performance.eventLoopUtilization()
    return { heapCommitted: getHeapStatistics().total_heap_size, utilization: elu.utilization }
  })
}

/**
 * V8's low-memory collection (Isolate::LowMemoryNotification: collect,
 * compact, uncommit), through an in-process inspector session held for the
 * layer's life. A failure is logged and the loop goes on.
 */
export const lowMemoryCollection = Effect.acquireRelease(
  Effect.sync(() => {
    const session = new Session()
    session.connect()
    return session
  }),
  (session) => Effect.sync(() => session.disconnect())
).pipe(
  Effect.map((session) =>
    Effect.async<void, Error>((resume) => {
      session.post("HeapProfiler.collectGarbage", (error) => resume(error === null ? Effect.void : Effect.fail(error)))
    }).pipe(Effect.catchAll((e) => Effect.logWarning(`idle collection failed: ${e.message}`)))
  )
)

/** The idle collector for this process, for as long as the layer lives. */
export const idleCollectorLayer = Layer.scopedDiscard(
  Effect.flatMap(lowMemoryCollection, (collect) => Effect.forkScoped(idleCollector(processSample(), collect)))
)
