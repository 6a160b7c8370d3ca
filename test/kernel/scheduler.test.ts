/**
 * The kernel's time-sliced scheduler (kernel/scheduler.ts): fibers that
 * always have work (a burst of arrivals) still let Node's event loop take
 * turns, so sockets and timers are served during the burst; and every fiber
 * still runs to its end with its own result. The contrast, a slice with no
 * end, never lets the event loop in: that is what the slice is for.
 */
import { describe, expect, it } from "vitest"
import { Effect, Scheduler } from "effect"
import { TimeSlicedScheduler } from "../../kernel/scheduler.ts"

/** Eight fibers of many small steps, run on `scheduler`; counts the event-loop turns (setImmediate) taken meanwhile. */
const burst = async (scheduler: Scheduler.Scheduler | undefined) => {
  let turns = 0
  let counting = true
  const tick = () => {
    turns += 1
    if (counting) setImmediate(tick)
  }
  setImmediate(tick)
  const fiber = (n: number) =>
    Effect.iterate(0, { while: (i) => i < 20_000, body: (i) => Effect.sync(() => i + 1) }).pipe(Effect.map((i) => i * n))
  const program = Effect.all([1, 2, 3, 4, 5, 6, 7, 8].map(fiber), { concurrency: "unbounded" })
  const results = await Effect.runPromise(scheduler === undefined ? program : Effect.withScheduler(program, scheduler))
  counting = false
  return { results, turns }
}

describe("the kernel's time-sliced scheduler", () => {
  it("gives the event loop turns during a burst, and every fiber finishes with its own result", async () => {
    const sliced = await burst(new TimeSlicedScheduler(1))
    expect(sliced.results).toEqual([20_000, 40_000, 60_000, 80_000, 100_000, 120_000, 140_000, 160_000])
    expect(sliced.turns).toBeGreaterThan(2)
  })

  it("a slice with no end, the contrast: the same burst takes no event-loop turns", async () => {
    const drained = await burst(new TimeSlicedScheduler(Number.POSITIVE_INFINITY))
    expect(drained.results).toEqual([20_000, 40_000, 60_000, 80_000, 100_000, 120_000, 140_000, 160_000])
    expect(drained.turns).toBeLessThanOrEqual(1)
  })
})
