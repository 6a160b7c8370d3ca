import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Queue, TestClock } from "effect"
import { EventBus } from "../../kernel/events.ts"
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import { advanceTo, settle } from "../../kernel/replay/settle.ts"
import { SimScript } from "../../kernel/replay/simProcess.ts"
import { JobStore } from "../../kernel/store/jobs.ts"
import { allocatorOn, tempDir, testConfig, worldLayer } from "../support/allocator.ts"

describe("arrival to success", () => {
  it.scoped("Gen-Decoder cools 24h, then runs and succeeds", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const config = testConfig(dir)
      const world = yield* Layer.build(worldLayer(config))
      const allocator = yield* Layer.build(allocatorOn(config).pipe(Layer.provide(Layer.succeedContext(world))))
      const ctx = { ...world, ...allocator }
      void ctx
      const run = <A, E>(e: Effect.Effect<A, E, JobStore | MemoryFirestore | SimScript | EventBus>) =>
        e.pipe(Effect.provide(allocator), Effect.provide(world))
      const events = yield* run(Effect.flatMap(EventBus, (b) => b.subscribe))
      yield* run(Effect.flatMap(SimScript, (s) => s.append("r1", [{ _tag: "Exit", code: 0, after: Duration.hours(2) }])))
      yield* run(
        Effect.flatMap(MemoryFirestore, (fs) =>
          fs.setReport("r1", { status: "Data Ready", service: "Gen-Decoder", patientId: "P001" })
        )
      )
      yield* run(settle)
      const first = yield* run(Effect.flatMap(JobStore, (j) => j.all))
      expect(first.map((r) => r.state)).toEqual(["waiting_cooldown"])
      yield* run(advanceTo(Duration.toMillis(Duration.hours(25))))
      const rows = yield* run(Effect.flatMap(JobStore, (j) => j.all))
      expect(rows.map((r) => [r.state, r.attempt])).toEqual([["running", 1]])
      yield* run(advanceTo(Duration.toMillis(Duration.hours(27))))
      const done = yield* run(Effect.flatMap(JobStore, (j) => j.all))
      expect(done.map((r) => r.state)).toEqual(["succeeded"])
      const trace = yield* Queue.takeAll(events)
      expect([...trace].map((e) => e._tag)).toContain("email")
      void TestClock
    })
  )
})
