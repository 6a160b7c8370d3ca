import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect, Exit, Option, TestClock } from "effect"
import { JOB_STATES_FOR_TEST } from "../support/states.ts"
import type { JobState } from "../../schemas/job.ts"
import { defaultTunables } from "../../schemas/tunables.ts"
import { runCleanup } from "../../actors/cleanup.ts"
import { HoldStore } from "../../kernel/store/holds.ts"
import { NotificationLog } from "../../kernel/store/notifications.ts"
import { OcrCache } from "../../kernel/store/ocrCache.ts"
import { JobStore } from "../../kernel/store/jobs.ts"
import { failedProof } from "../support/proof.ts"
import { arrival, freshStore } from "../support/store.ts"

/** Drives a fresh row for `doc` into `state` through legal moves only. */
const rowIn = (doc: string, state: JobState) =>
  Effect.gen(function* () {
    const jobs = yield* JobStore
    const inserted = yield* jobs.insertArrival(arrival(doc, { state: state === "waiting_cooldown" ? "waiting_cooldown" : state === "received" ? "received" : "queued" }))
    if (inserted._tag !== "Inserted") throw new Error("blocked")
    const id = inserted.run.id
    if (state === "received" || state === "waiting_cooldown" || state === "queued") return id
    yield* jobs.claimNextQueued
    const end = { exitCode: 1, errorMessage: "x" }
    const next = { state: "waiting_cooldown" as const, attempt: 2, scheduledRunAt: "2099-01-01T00:00:00.000Z", notes: null }
    switch (state) {
      case "running":
        return id
      case "succeeded":
        yield* jobs.succeed(id, 0)
        return id
      case "failed_retrying":
      case "temp_failed":
      case "failed_sync": {
        // Through the API these are never newest for long (their follow-up row is inserted in the
        // same transaction), so the test writes the row directly: the rule is about the newest row.
        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE job_runs SET state = ${state} WHERE id = ${id}`
        return id
      }
      case "failed_permanent":
        yield* jobs.failPermanent(id, ["running"], end, yield* failedProof(doc))
        return id
    }
  })

describe("JobStore", () => {
  describe("dedup (rule 2)", () => {
    // store.md rule 2, written out: active rows and succeeded / failed_retrying / temp_failed /
    // failed_sync block a new arrival; only failed_permanent lets one through.
    const RULE_2: ReadonlyArray<readonly [JobState, "Blocked" | "Inserted"]> = [
      ["received", "Blocked"],
      ["waiting_cooldown", "Blocked"],
      ["queued", "Blocked"],
      ["running", "Blocked"],
      ["succeeded", "Blocked"],
      ["failed_retrying", "Blocked"],
      ["temp_failed", "Blocked"],
      ["failed_sync", "Blocked"],
      ["failed_permanent", "Inserted"]
    ]

    it("the table covers every state of the state machine", () => {
      expect([...RULE_2.map(([state]) => state)].sort()).toEqual([...JOB_STATES_FOR_TEST].sort())
    })

    for (const [state, expected] of RULE_2) {
      it.scoped(`a newest row in ${state}: a new arrival is ${expected}`, () =>
        Effect.gen(function* () {
          const jobs = yield* JobStore
          yield* rowIn("d", state)
          const result = yield* jobs.insertArrival(arrival("d"))
          expect(result._tag).toBe(expected)
        }).pipe(Effect.provide(freshStore()))
      )
    }

    it.scoped("only the newest row counts: older failed_retrying rows behind a failed_permanent do not block", () =>
      Effect.gen(function* () {
        const jobs = yield* JobStore
        const first = yield* jobs.insertArrival(arrival("d"))
        if (first._tag !== "Inserted") throw new Error("blocked")
        yield* jobs.claimNextQueued
        const second = yield* jobs.endWithFollowUp(first.run.id, "running", "failed_retrying", { exitCode: 1, errorMessage: "x" }, {
          state: "queued",
          attempt: 2,
          scheduledRunAt: "2026-01-01T00:00:00.000Z",
          notes: null
        })
        const secondId = Option.getOrThrow(second).id
        yield* jobs.claimNextQueued
        yield* jobs.failPermanent(secondId, ["running"], { exitCode: 1, errorMessage: "x" }, yield* failedProof("d"))
        const again = yield* jobs.insertArrival(arrival("d"))
        expect(again._tag).toBe("Inserted")
      }).pipe(Effect.provide(freshStore()))
    )
  })

  describe("guarded transitions", () => {
    it.scoped("claim takes the lowest queued id and a second claim takes the next", () =>
      Effect.gen(function* () {
        const jobs = yield* JobStore
        yield* jobs.insertArrival(arrival("a"))
        yield* jobs.insertArrival(arrival("b"))
        const one = yield* jobs.claimNextQueued
        const two = yield* jobs.claimNextQueued
        const three = yield* jobs.claimNextQueued
        expect(Option.map(one, (r) => r.doc_id)).toEqual(Option.some("a"))
        expect(Option.map(two, (r) => r.doc_id)).toEqual(Option.some("b"))
        expect(Option.isNone(three)).toBe(true)
      }).pipe(Effect.provide(freshStore()))
    )

    it.scoped("a lost race is a visible no-op: succeeding a row the kill already ended changes nothing", () =>
      Effect.gen(function* () {
        const jobs = yield* JobStore
        const id = yield* rowIn("a", "running")
        const killed = yield* jobs.failPermanent(id, ["running", "queued", "waiting_cooldown", "received"], { exitCode: null, errorMessage: "Killed" }, yield* failedProof("a"))
        expect(Option.isSome(killed)).toBe(true)
        const late = yield* jobs.succeed(id, 0)
        expect(Option.isNone(late)).toBe(true)
        const row = Option.getOrThrow(yield* jobs.byId(id))
        expect(row.state).toBe("failed_permanent")
        expect(row.error_message).toBe("Killed")
      }).pipe(Effect.provide(freshStore()))
    )

    it.scoped("a move the state machine does not have is refused as a defect", () =>
      Effect.gen(function* () {
        const jobs = yield* JobStore
        const id = yield* rowIn("a", "queued")
        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE job_runs SET state = 'failed_retrying' WHERE id = ${id}`
        const exit = yield* Effect.exit(jobs.failPermanent(id, ["failed_retrying"], { exitCode: 1, errorMessage: "x" }, yield* failedProof("a")))
        expect(Exit.isFailure(exit)).toBe(true)
        expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain("illegal transition")
      }).pipe(Effect.provide(freshStore()))
    )

    it.scoped("promotion moves due cooldowns oldest due first, then lowest id, and leaves future ones", () =>
      Effect.gen(function* () {
        const jobs = yield* JobStore
        yield* TestClock.setTime(Date.parse("2026-01-02T00:00:00.000Z"))
        yield* jobs.insertArrival(arrival("late", { state: "waiting_cooldown", scheduledRunAt: "2026-01-01T12:00:00.000Z" }))
        yield* jobs.insertArrival(arrival("early", { state: "waiting_cooldown", scheduledRunAt: "2026-01-01T06:00:00.000Z" }))
        yield* jobs.insertArrival(arrival("future", { state: "waiting_cooldown", scheduledRunAt: "2026-01-03T00:00:00.000Z" }))
        const promoted = yield* jobs.promoteDue
        expect(promoted.map((r) => r.doc_id)).toEqual(["early", "late"])
        expect(Option.getOrThrow(yield* jobs.nextCooldownDue)).toBe("2026-01-03T00:00:00.000Z")
      }).pipe(Effect.provide(freshStore()))
    )

    it.scoped("withdrawal ends received, queued and cooling rows but never a running one", () =>
      Effect.gen(function* () {
        const jobs = yield* JobStore
        const running = yield* rowIn("a", "running")
        const withdrawnNone = yield* jobs.withdraw("a")
        expect(withdrawnNone).toEqual([])
        expect(Option.getOrThrow(yield* jobs.byId(running)).state).toBe("running")
        yield* rowIn("b", "waiting_cooldown")
        const withdrawn = yield* jobs.withdraw("b")
        expect(withdrawn.map((r) => [r.state, r.error_message])).toEqual([["failed_permanent", "Withdrawn from Firestore"]])
      }).pipe(Effect.provide(freshStore()))
    )
  })

  it.scoped("a display refresh touches active rows' display fields only, never a state or a finished row", () =>
    Effect.gen(function* () {
      const jobs = yield* JobStore
      const done = yield* rowIn("a", "succeeded")
      const cooling = yield* jobs.insertArrival(arrival("a", { state: "waiting_cooldown" }))
      expect(cooling._tag).toBe("Blocked")
      const active = yield* rowIn("b", "waiting_cooldown")
      yield* jobs.refreshDisplay("a", { patientName: "Ada", collectionDate: "2026-01-01" })
      yield* jobs.refreshDisplay("b", { patientName: "Bea", collectionDate: null })
      expect(Option.getOrThrow(yield* jobs.byId(done)).patient_name).toBeNull()
      const refreshed = Option.getOrThrow(yield* jobs.byId(active))
      expect([refreshed.patient_name, refreshed.state]).toEqual(["Bea", "waiting_cooldown"])
    }).pipe(Effect.provide(freshStore()))
  )

  describe("reports that cannot run (rules 3, 7)", () => {
    it.scoped("a received row whose Failed write failed ends failed_sync with a sync_retry row: never stuck", () =>
      Effect.gen(function* () {
        const jobs = yield* JobStore
        yield* TestClock.setTime(Date.parse("2026-01-01T00:00:00.000Z"))
        const id = yield* rowIn("bad", "received")
        const retry = yield* jobs.endWithFollowUp(id, "received", "failed_sync", { exitCode: null, errorMessage: "x" }, {
          state: "waiting_cooldown",
          attempt: 1,
          scheduledRunAt: "2026-01-02T00:00:00.000Z",
          notes: "sync_retry"
        })
        expect(Option.map(retry, (r) => [r.state, r.attempt, r.notes])).toEqual(Option.some(["waiting_cooldown", 1, "sync_retry"]))
        expect(Option.getOrThrow(yield* jobs.byId(id)).state).toBe("failed_sync")
      }).pipe(Effect.provide(freshStore()))
    )

    it.scoped("a received row decided again becomes runnable with the patientId of the fixed document", () =>
      Effect.gen(function* () {
        const jobs = yield* JobStore
        const inserted = yield* jobs.insertArrival(arrival("bad", { state: "received", patientId: null }))
        if (inserted._tag !== "Inserted") throw new Error("blocked")
        const admitted = yield* jobs.admitReceived(inserted.run.id, {
          state: "queued",
          scheduledRunAt: "2026-01-01T00:00:00.000Z",
          patientId: "P7"
        })
        expect(Option.map(admitted, (r) => [r.state, r.patient_id])).toEqual(Option.some(["queued", "P7"]))
      }).pipe(Effect.provide(freshStore()))
    )
  })

  describe("the Firestore-first proof (rule 6)", () => {
    it.scoped("a proof written for one document cannot fail another document's row", () =>
      Effect.gen(function* () {
        const jobs = yield* JobStore
        const id = yield* rowIn("a", "running")
        const exit = yield* Effect.exit(
          jobs.failPermanent(id, ["running"], { exitCode: 1, errorMessage: "x" }, yield* failedProof("other"))
        )
        expect(Exit.isFailure(exit)).toBe(true)
        expect(Option.getOrThrow(yield* jobs.byId(id)).state).toBe("running")
      }).pipe(Effect.provide(freshStore()))
    )
  })

  describe("retention (rule 13)", () => {
    it.scoped("OCR cache entries go after RETENTION_OCR_CACHE_DAYS (30), notifications after RETENTION_NOTIFICATIONS_DAYS (60)", () =>
      Effect.gen(function* () {
        const ocr = yield* OcrCache
        const notifications = yield* NotificationLog
        yield* TestClock.setTime(Date.parse("2026-01-01T00:00:00.000Z"))
        yield* ocr.put("old-ocr", 1, "/x/ocr.json")
        yield* notifications.record({ template: "upload_reminder", docId: "m", recipients: ["a@b"], status: "ok", error: null })
        yield* TestClock.setTime(Date.parse("2026-01-30T00:00:00.000Z"))
        yield* ocr.put("new-ocr", 2, "/y/ocr.json")
        // Day 31: the first OCR entry is 31 days old (> 30), the second 2 days; the mail 31 days (< 60).
        yield* TestClock.setTime(Date.parse("2026-02-01T00:00:00.000Z"))
        expect(yield* runCleanup).toEqual({ rows: 0, ocrRows: 1, mails: 0 })
        expect(Option.isNone(yield* ocr.get("old-ocr"))).toBe(true)
        expect(Option.isSome(yield* ocr.get("new-ocr"))).toBe(true)
        expect((yield* notifications.recent(10)).length).toBe(1)
        // Day 61: the notification is 61 days old (> 60).
        yield* TestClock.setTime(Date.parse("2026-03-03T00:00:00.000Z"))
        expect(yield* runCleanup).toEqual({ rows: 0, ocrRows: 1, mails: 1 })
        expect(yield* notifications.recent(10)).toEqual([])
      }).pipe(Effect.provide(freshStore()))
    )

    it.scoped("deletes terminal rows past retention and never active rows or holds, however old", () =>
      Effect.gen(function* () {
        const jobs = yield* JobStore
        const holds = yield* HoldStore
        yield* TestClock.setTime(Date.parse("2026-01-01T00:00:00.000Z"))
        const old = yield* rowIn("done", "succeeded")
        const cooling = yield* rowIn("cool", "waiting_cooldown")
        const running = yield* rowIn("run", "running")
        yield* holds.create({ docId: "held", service: "Epi-Insight", patientId: "P1", createdBy: "t" })
        yield* TestClock.setTime(Date.parse("2027-01-01T00:00:00.000Z"))
        const fresh = yield* rowIn("new", "succeeded")
        const deleted = yield* jobs.deleteExpired(defaultTunables())
        expect(deleted).toBe(1)
        const left = (yield* jobs.all).map((r) => r.id)
        expect(left).not.toContain(old)
        expect(left).toEqual(expect.arrayContaining([cooling, running, fresh]))
        expect((yield* holds.holding).map((h) => h.doc_id)).toEqual(["held"])
      }).pipe(Effect.provide(freshStore()))
    )
  })
})
