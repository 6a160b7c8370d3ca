/**
 * Start-up recovery (rule 10 as amended) on rows a replay cannot strand: the
 * database is prepared as a killed allocator would leave it, then a whole
 * allocator starts on it (real SQLite, in-memory Firestore and host).
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option } from "effect"
import { CapturedMail } from "../../kernel/mail/capture.ts"
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import { databaseFile } from "../../kernel/paths.ts"
import { Executor } from "../../kernel/ports/executor.ts"
import { SimHost } from "../../kernel/replay/simHost.ts"
import { storeLayer } from "../../kernel/runtime.ts"
import { JobStore } from "../../kernel/store/jobs.ts"
import { arrival } from "../support/store.ts"
import { allocatorOn, tempDir, testConfig, worldLayer } from "../support/allocator.ts"
import { eventually, quiet } from "../integration/support.ts"

const setUp = Effect.gen(function* () {
  const config = testConfig(yield* tempDir)
  const world = yield* Layer.build(worldLayer(config))
  const inWorld = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, world) as Effect.Effect<A, E, never>
  /** Rows as the killed allocator left them. */
  const seed = <A, E>(effect: Effect.Effect<A, E, JobStore>) =>
    Effect.scoped(Effect.flatMap(Layer.build(storeLayer(databaseFile(config.dataDir))), (stores) => Effect.provide(effect, stores))).pipe(
      Effect.provide(world),
      Effect.orDie
    )
  const start = Effect.gen(function* () {
    const allocator = yield* Layer.build(allocatorOn(config).pipe(Layer.provide(Layer.succeedContext(world))))
    return <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(Effect.provide(effect, allocator), world) as Effect.Effect<A, E, never>
  })
  return { inWorld, seed, start }
})

const rowsOf = (doc: string) => Effect.flatMap(JobStore, (jobs) => jobs.rowsForDoc(doc))

describe("start-up recovery (rule 10) of rows a killed allocator left", () => {
  it.scopedLive("a received row whose report is now runnable is queued and runs at attempt 1", () =>
    quiet(
      Effect.gen(function* () {
        const { inWorld, seed, start } = yield* setUp
        yield* inWorld(Effect.flatMap(SimHost, (h) => h.append("rv-1", [{ _tag: "Exit", code: 0, after: Duration.millis(20) }])))
        // The hospital fixed the report while the allocator was down.
        yield* inWorld(Effect.flatMap(MemoryFirestore, (fs) => fs.setReport("rv-1", { status: "Data Ready", service: "Epi-Insight", patientId: "P7" })))
        yield* seed(Effect.flatMap(JobStore, (jobs) => jobs.insertArrival(arrival("rv-1", { state: "received", patientId: null }))))
        const run = yield* start
        const rows = yield* eventually(
          "rv-1 to succeed",
          run(Effect.map(rowsOf("rv-1"), (r) => (r.at(-1)?.state === "succeeded" ? r : undefined)))
        )
        expect(rows.map((r) => [r.id, r.attempt, r.state])).toEqual([[1, 1, "succeeded"]])
        expect(yield* inWorld(Effect.flatMap(CapturedMail, (m) => m.messages))).toEqual([])
      })
    )
  )

  it.scopedLive("a received row whose report Firestore already says Failed ends failed_permanent with its email; nothing runs", () =>
    quiet(
      Effect.gen(function* () {
        const { inWorld, seed, start } = yield* setUp
        // The allocator's Failed write landed; it died before the SQLite update.
        yield* inWorld(Effect.flatMap(MemoryFirestore, (fs) => fs.setReport("rv-2", { status: "Failed", service: "Epi-Insight" })))
        yield* seed(Effect.flatMap(JobStore, (jobs) => jobs.insertArrival(arrival("rv-2", { state: "received", patientId: null }))))
        const run = yield* start
        const rows = yield* eventually(
          "rv-2 to fail",
          run(Effect.map(rowsOf("rv-2"), (r) => (r.at(-1)?.state === "failed_permanent" ? r : undefined)))
        )
        expect(rows.map((r) => [r.attempt, r.state, r.error_message])).toEqual([[1, "failed_permanent", "report has no patientId"]])
        const mails = yield* eventually(
          "the permanent_failure email",
          inWorld(Effect.map(Effect.flatMap(CapturedMail, (m) => m.messages), (m) => (m.length > 0 ? m : undefined)))
        )
        expect(mails.length).toBe(1)
        expect(yield* inWorld(Effect.flatMap(MemoryFirestore, (fs) => fs.snapshotReports))).toEqual([
          { id: "rv-2", data: { status: "Failed", service: "Epi-Insight" } }
        ])
      })
    )
  )

  it.scopedLive("a running row the executor never started goes back to queued at the same attempt; a lost one is a crash victim", () =>
    quiet(
      Effect.gen(function* () {
        const { inWorld, seed, start } = yield* setUp
        yield* inWorld(Effect.flatMap(SimHost, (h) => h.append("un-1", [{ _tag: "Exit", code: 0, after: Duration.millis(20) }])))
        yield* inWorld(Effect.flatMap(SimHost, (h) => h.append("lo-1", [{ _tag: "Hang" }, { _tag: "Exit", code: 0, after: Duration.millis(20) }])))
        for (const doc of ["un-1", "lo-1"]) {
          yield* inWorld(Effect.flatMap(MemoryFirestore, (fs) => fs.setReport(doc, { status: "Data Ready", service: "Epi-Insight", patientId: "P1" })))
        }
        // Both claimed; un-1 was never started, lo-1 started and then the machine died.
        const [, lost] = yield* seed(
          Effect.gen(function* () {
            const jobs = yield* JobStore
            yield* jobs.insertArrival(arrival("un-1"))
            yield* jobs.insertArrival(arrival("lo-1"))
            return [yield* jobs.claimNextQueued, yield* jobs.claimNextQueued] as const
          })
        )
        const lostId = Option.getOrThrow(lost).id
        yield* inWorld(
          Effect.gen(function* () {
            const executor = yield* Executor
            yield* executor.start({ runId: lostId, docId: "lo-1", patientId: "P1", service: "Epi-Insight", attempt: 1, script: "x", env: {}, logFile: "/dev/null" })
            yield* (yield* SimHost).crash
          })
        )
        const run = yield* start
        const un = yield* eventually("un-1 to succeed", run(Effect.map(rowsOf("un-1"), (r) => (r.at(-1)?.state === "succeeded" ? r : undefined))))
        expect(un.map((r) => [r.attempt, r.state, r.notes])).toEqual([[1, "succeeded", "recovered"]])
        const lo = yield* eventually("lo-1 to succeed", run(Effect.map(rowsOf("lo-1"), (r) => (r.at(-1)?.state === "succeeded" ? r : undefined))))
        expect(lo.map((r) => [r.attempt, r.state, r.notes, r.error_message])).toEqual([
          [1, "failed_retrying", null, "the machine stopped while the pipeline was running; no exit status was recorded"],
          [2, "succeeded", "recovered", null]
        ])
      })
    )
  )
})
