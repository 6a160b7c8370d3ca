/**
 * Single flight (kernel/http/singleFlight.ts), the jobs list's sharing of
 * identical reads: callers of one key at the same moment share one
 * computation, different keys do not, and nothing is kept once answered
 * (the Cache it replaced held 256 answered pages after a load).
 */
import { Deferred, Effect, Exit, Fiber, Ref } from "effect"
import { describe, expect, it } from "vitest"
import { pageKey } from "../../kernel/http/handlers/dashboard.ts"
import { singleFlight } from "../../kernel/http/singleFlight.ts"

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

/** A computation per key that waits for `gate`, counting how often it ran. */
const gated = Effect.gen(function* () {
  const gate = yield* Deferred.make<void>()
  const runs = yield* Ref.make(0)
  const flight = singleFlight(
    (k: string) => k,
    (k: string) => Effect.zipRight(Ref.update(runs, (n) => n + 1), Effect.as(Deferred.await(gate), `page ${k}`))
  )
  return { gate, runs, flight }
})

describe("single flight", () => {
  it("callers of one key while it runs share one computation and all get its answer", async () => {
    const result = await run(
      Effect.gen(function* () {
        const { gate, runs, flight } = yield* gated
        const callers = yield* Effect.forEach([1, 2, 3, 4, 5], () => Effect.fork(flight.run("a")))
        yield* Effect.yieldNow()
        const during = flight.inFlight()
        yield* Deferred.succeed(gate, undefined)
        const answers = yield* Effect.forEach(callers, Fiber.join)
        return { answers, runs: yield* Ref.get(runs), during, after: flight.inFlight() }
      })
    )
    expect(result.answers).toEqual(["page a", "page a", "page a", "page a", "page a"])
    expect(result.runs).toBe(1)
    expect(result.during).toBe(1)
    expect(result.after).toBe(0)
  })

  it("different keys run apart, and a key asked again after its answer runs again (nothing kept)", async () => {
    const result = await run(
      Effect.gen(function* () {
        const { gate, runs, flight } = yield* gated
        yield* Deferred.succeed(gate, undefined)
        const a = yield* flight.run("a")
        const b = yield* flight.run("b")
        const again = yield* flight.run("a")
        return { a, b, again, runs: yield* Ref.get(runs), kept: flight.inFlight() }
      })
    )
    expect([result.a, result.b, result.again]).toEqual(["page a", "page b", "page a"])
    expect(result.runs).toBe(3)
    expect(result.kept).toBe(0)
  })

  it("the first caller going away does not take the answer from the others", async () => {
    const result = await run(
      Effect.gen(function* () {
        const { gate, runs, flight } = yield* gated
        const first = yield* Effect.fork(flight.run("a"))
        yield* Effect.yieldNow()
        const second = yield* Effect.fork(flight.run("a"))
        yield* Effect.yieldNow()
        yield* Fiber.interrupt(first)
        yield* Deferred.succeed(gate, undefined)
        return { second: yield* Fiber.join(second), runs: yield* Ref.get(runs) }
      })
    )
    expect(result).toEqual({ second: "page a", runs: 1 })
  })

  it("a failure reaches every caller that joined, and is not kept either", async () => {
    const result = await run(
      Effect.gen(function* () {
        const gate = yield* Deferred.make<void>()
        const attempts = yield* Ref.make(0)
        const flight = singleFlight(
          (k: string) => k,
          (k: string) =>
            Effect.zipRight(
              Effect.zipRight(Ref.update(attempts, (n) => n + 1), Deferred.await(gate)),
              Effect.fail(`no page ${k}`)
            )
        )
        const callers = yield* Effect.forEach([1, 2], () => Effect.fork(Effect.exit(flight.run("x"))))
        yield* Effect.yieldNow()
        yield* Deferred.succeed(gate, undefined)
        const exits = yield* Effect.forEach(callers, Fiber.join)
        const later = yield* Effect.exit(flight.run("x"))
        return { exits, later, attempts: yield* Ref.get(attempts) }
      })
    )
    expect(result.exits).toEqual([Exit.fail("no page x"), Exit.fail("no page x")])
    expect(result.later).toEqual(Exit.fail("no page x"))
    expect(result.attempts).toBe(2)
  })
})

describe("jobs page key", () => {
  it("equal filters give equal keys; any field that differs gives another", () => {
    const base = { states: ["succeeded" as const], q: "123", cursor: 99, limit: 50 }
    expect(pageKey(base)).toBe(pageKey({ ...base, states: ["succeeded"] }))
    expect(pageKey(base)).not.toBe(pageKey({ ...base, cursor: 98 }))
    expect(pageKey(base)).not.toBe(pageKey({ ...base, limit: 51 }))
    expect(pageKey(base)).not.toBe(pageKey({ ...base, q: "1234" }))
    expect(pageKey(base)).not.toBe(pageKey({ ...base, states: ["succeeded", "failed_permanent"] }))
    expect(pageKey(base)).not.toBe(pageKey({ ...base, service: "Epi-Insight" }))
    expect(pageKey({ limit: 50, from: "2026-01-01T00:00:00.000Z" })).not.toBe(pageKey({ limit: 50, to: "2026-01-01T00:00:00.000Z" }))
  })
})
