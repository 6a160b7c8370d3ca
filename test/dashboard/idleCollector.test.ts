/**
 * The dashboard server's idle collector (kernel/dashboard/idleCollector.ts):
 * after a load, once the event loop has been quiet for two samples, one
 * low-memory collection gives the heap V8 kept committed back; never while
 * a load is on, never more than once per ten samples, never for less than
 * 8 MiB of growth. Then the real collection on this process: it uncommits.
 */
import { Duration, Effect, Fiber, Ref, TestClock, TestContext } from "effect"
import { getHeapStatistics } from "node:v8"
import { describe, expect, it } from "vitest"
import {
  type CollectorState,
  type HeapSample,
  idleCollector,
  IDLE_COLLECTOR_RULES,
  lowMemoryCollection,
  step
} from "../../kernel/dashboard/idleCollector.ts"

const MiB = 1024 * 1024
const busy = (mib: number): HeapSample => ({ heapCommitted: mib * MiB, utilization: 0.8 })
const quiet = (mib: number): HeapSample => ({ heapCommitted: mib * MiB, utilization: 0.01 })

/** Feeds samples through `step` from `state`; the indexes (0-based) of the samples that collected. */
const collections = (state: CollectorState, samples: ReadonlyArray<HeapSample>) => {
  const at: Array<number> = []
  samples.reduce((s, sample, i) => {
    const next = step(s, sample)
    if (next.collect) at.push(i)
    return next.state
  }, state)
  return at
}

const rested: CollectorState = { baseline: 30 * MiB, quiet: 0, since: 10 }

describe("idle collector rule", () => {
  it("collects on the second quiet sample after a load that grew the heap by 8 MiB or more", () => {
    expect(collections(rested, [busy(50), busy(60), quiet(60), quiet(60), quiet(60)])).toEqual([3])
  })

  it("never collects while the load is on, however large the heap", () => {
    expect(collections(rested, [busy(50), busy(90), busy(120), busy(120), busy(120)])).toEqual([])
  })

  it("one busy sample between quiet ones starts the quiet count again", () => {
    expect(collections(rested, [busy(60), quiet(60), busy(60), quiet(60), quiet(60)])).toEqual([4])
  })

  it("leaves growth under 8 MiB alone", () => {
    expect(collections(rested, [busy(37), quiet(37.9), quiet(37.9), quiet(37.9)])).toEqual([])
    expect(collections(rested, [busy(38), quiet(38), quiet(38)])).toEqual([2])
  })

  it("waits ten samples after a collection before the next one", () => {
    const after: CollectorState = { baseline: 30 * MiB, quiet: 0, since: 0 }
    const samples = [busy(60), ...Array.from({ length: 12 }, () => quiet(60))]
    // sample 9 is the tenth since the collection
    expect(collections(after, samples)).toEqual([9])
  })

  it("follows the heap down when V8 shrinks it on its own, and measures growth from there", () => {
    const next = step(rested, quiet(20))
    expect(next.state.baseline).toBe(20 * MiB)
    expect(collections(next.state, [busy(28), quiet(28), quiet(28)])).toEqual([2])
  })
})

describe("idle collector loop", () => {
  it("samples once a second, collects once the load is over, and takes the baseline from right after", async () => {
    // Start-up (baseline zero), quiet, then a load, then quiet again.
    const script = [quiet(40), quiet(40), quiet(40), ...Array.from({ length: 12 }, () => busy(70)), quiet(70), quiet(70), quiet(70)]
    const program = Effect.gen(function* () {
      const feed = yield* Ref.make(script)
      const collections = yield* Ref.make(0)
      /** Set by a collection: what the loop's next read of the heap sees (then the script goes on). */
      const afterCollection = yield* Ref.make<HeapSample | undefined>(undefined)
      const sample = Effect.gen(function* () {
        const shrunk = yield* Ref.getAndSet(afterCollection, undefined)
        if (shrunk !== undefined) return shrunk
        const [next, ...rest] = yield* Ref.get(feed)
        yield* Ref.set(feed, rest)
        return next ?? quiet(70)
      })
      const collect = Effect.zipRight(Ref.update(collections, (n) => n + 1), Ref.set(afterCollection, quiet(25)))
      const fiber = yield* Effect.fork(idleCollector(sample, collect))
      const seen: Array<number> = []
      for (let second = 1; second <= script.length; second++) {
        yield* TestClock.adjust(Duration.seconds(1))
        seen.push(yield* Ref.get(collections))
      }
      yield* Fiber.interrupt(fiber)
      return seen
    })
    const seen = await Effect.runPromise(program.pipe(Effect.provide(TestContext.TestContext)))
    // Start-up: collected on the second quiet second. The load (seconds 4-15) never; after it, on
    // the second quiet second (17): growth measured from the 25 MiB read right after the first.
    expect(seen.indexOf(1) + 1).toBe(2)
    expect(seen.indexOf(2) + 1).toBe(17)
    expect(seen[seen.length - 1]).toBe(2)
  })
})

describe("the low-memory collection itself", () => {
  it("gives committed heap back after a burst of promoted garbage (real V8, this process)", async () => {
    // Each round's rows live until the next round's are made: they survive scavenges and reach old space.
    let alive: ReadonlyArray<{ readonly i: number; readonly s: string }> = []
    for (let round = 0; round < 15; round++) alive = Array.from({ length: 100_000 }, (_, i) => ({ i, s: `row ${i} ${round}` }))
    expect(alive.length).toBe(100_000)
    alive = []
    const before = getHeapStatistics().total_heap_size
    await Effect.runPromise(Effect.scoped(Effect.flatMap(lowMemoryCollection, (collect) => collect)))
    const after = getHeapStatistics().total_heap_size
    expect(before - after).toBeGreaterThan(IDLE_COLLECTOR_RULES.growthBytes)
  })
})
