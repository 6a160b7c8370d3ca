import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema, TestClock } from "effect"
import { ProbeFailure, runCheck } from "../../kernel/health/check.ts"
import { HealthResult } from "../../schemas/health.ts"

describe("runCheck", () => {
  it.effect("stamps time and latency from the Clock", () =>
    Effect.gen(function* () {
      yield* TestClock.adjust("1 hour")
      const result = yield* runCheck(
        "firestore",
        Effect.sleep("250 millis").pipe(Effect.as({ detail: "reports readable" }))
      ).pipe(Effect.fork, Effect.tap(() => TestClock.adjust("250 millis")), Effect.flatMap((f) => f.await), Effect.flatten)
      expect(Schema.is(HealthResult)(result)).toBe(true)
      expect(result).toEqual({
        name: "firestore",
        ok: true,
        detail: "reports readable",
        checkedAt: "1970-01-01T01:00:00.250Z",
        latencyMs: 250
      })
    })
  )

  it.effect("a probe failure is a result, not an error", () =>
    Effect.gen(function* () {
      const result = yield* runCheck("firestore", Effect.fail(new ProbeFailure({ detail: "deadline exceeded" })))
      expect(result).toMatchObject({ name: "firestore", ok: false, detail: "deadline exceeded" })
    })
  )

  it.effect("a defect is a result too", () =>
    Effect.gen(function* () {
      const result = yield* runCheck("ocr", Effect.die(new Error("boom")))
      expect(result).toMatchObject({ name: "ocr", ok: false, detail: "check crashed: boom" })
    })
  )
})
