import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect, Exit, Option, TestClock } from "effect"
import { JOB_STATES_FOR_TEST } from "../support/states.ts"
import { DEDUP_BLOCKING_STATES, type JobState } from "../../schemas/job.ts"
import { defaultTunables } from "../../schemas/tunables.ts"
import { HoldStore } from "../../kernel/store/holds.ts"
import { type FirestoreFailedWritten, JobStore } from "../../kernel/store/jobs.ts"
import { arrival, freshStore } from "../support/store.ts"

const proof = (docId: string): FirestoreFailedWritten => ({ _proof: "FirestoreFailedWritten", docId })

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
        yield* jobs.failPermanent(id, ["running"], end, proof(doc))
        return id
    }
  })

describe("JobStore", () => {
  describe("dedup (rule 2)", () => {
    for (const state of JOB_STATES_FOR_TEST) {
      const blocks = DEDUP_BLOCKING_STATES.includes(state)
      it.scoped(`a newest row in ${state} ${blocks ? "blocks" : "does not block"} a new arrival`, () =>
        Effect.gen(function* () {
          const jobs = yield* JobStore
          yield* rowIn("d", state)
          const result = yield* jobs.insertArrival(arrival("d"))
          expect(result._tag).toBe(blocks ? "Blocked" : "Inserted")
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
        yield* jobs.failPermanent(secondId, ["running"], { exitCode: 1, errorMessage: "x" }, proof("d"))
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
        const killed = yield* jobs.failPermanent(id, ["running", "queued", "waiting_cooldown", "received"], { exitCode: null, errorMessage: "Killed" }, proof("a"))
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
        const exit = yield* Effect.exit(jobs.failPermanent(id, ["failed_retrying"], { exitCode: 1, errorMessage: "x" }, proof("a")))
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

  describe("retention (rule 13)", () => {
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
