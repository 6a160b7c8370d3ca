import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Option, Ref, TestClock } from "effect"
import { makeTtlCache } from "../../kernel/health/cache.ts"
import { checkOcr } from "../../kernel/health/ocr.ts"
import { healthConfig, json, startHttpServer } from "./support.ts"

describe("TTL cache", () => {
  it.scoped("a cached health check hits the server once per TTL (TestClock), and refresh forces a probe", () =>
    Effect.gen(function* () {
      const server = yield* startHttpServer(json(200, { status: "ok" }))
      const config = healthConfig({ ocrUrl: server.url, ttlSeconds: 60 })
      const cache = yield* makeTtlCache(checkOcr(config), Duration.seconds(config.ttlSeconds))

      expect(yield* cache.peek).toEqual(Option.none())
      const first = yield* cache.get
      expect(first).toMatchObject({ name: "ocr", ok: true, checkedAt: "1970-01-01T00:00:00.000Z" })
      expect(server.requests).toHaveLength(1)

      yield* TestClock.adjust("59 seconds")
      const second = yield* cache.get
      expect(second).toBe(first)
      expect(server.requests).toHaveLength(1)

      yield* TestClock.adjust("2 seconds")
      const third = yield* cache.get
      expect(server.requests).toHaveLength(2)
      expect(third.checkedAt).toBe("1970-01-01T00:01:01.000Z")

      const forced = yield* cache.refresh
      expect(server.requests).toHaveLength(3)
      expect(yield* cache.get).toBe(forced)
      expect(server.requests).toHaveLength(3)
      expect(yield* cache.peek).toEqual(Option.some(forced))
    })
  )

  it.effect("a refresh restarts the TTL", () =>
    Effect.gen(function* () {
      const count = yield* Ref.make(0)
      const cache = yield* makeTtlCache(Ref.updateAndGet(count, (n) => n + 1), "10 seconds")
      expect(yield* cache.get).toBe(1)
      yield* TestClock.adjust("8 seconds")
      expect(yield* cache.refresh).toBe(2)
      yield* TestClock.adjust("8 seconds")
      expect(yield* cache.get).toBe(2)
      yield* TestClock.adjust("2 seconds")
      expect(yield* cache.get).toBe(3)
    })
  )

  it.effect("concurrent callers share one computation", () =>
    Effect.gen(function* () {
      const count = yield* Ref.make(0)
      const latch = yield* Deferred.make<void>()
      const cache = yield* makeTtlCache(
        Ref.updateAndGet(count, (n) => n + 1).pipe(Effect.zipLeft(Deferred.await(latch))),
        "1 minute"
      )
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(cache.get))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(latch, undefined)
      const results = yield* Fiber.joinAll(fibers)
      expect(results).toEqual([1, 1, 1])
      expect(yield* Ref.get(count)).toBe(1)
    })
  )

  it.effect("failures are not cached", () =>
    Effect.gen(function* () {
      const count = yield* Ref.make(0)
      const cache = yield* makeTtlCache(
        Ref.updateAndGet(count, (n) => n + 1).pipe(
          Effect.filterOrFail(
            (n) => n > 1,
            () => "first try fails"
          )
        ),
        "1 minute"
      )
      expect(yield* Effect.flip(cache.get)).toBe("first try fails")
      expect(yield* cache.peek).toEqual(Option.none())
      expect(yield* cache.get).toBe(2)
      expect(yield* cache.get).toBe(2)
    })
  )

  it.effect("a zero TTL computes every time", () =>
    Effect.gen(function* () {
      const count = yield* Ref.make(0)
      const cache = yield* makeTtlCache(Ref.updateAndGet(count, (n) => n + 1), Duration.zero)
      expect(yield* cache.get).toBe(1)
      expect(yield* cache.get).toBe(2)
    })
  )
})
