/**
 * Rule 10: a `received` row left behind (the allocator was SIGKILLed between
 * the Firestore `Failed` write and the SQLite update) is decided again from
 * the document as it is now, by kernel/arrival.ts `decideReceived`, which
 * start-up recovery calls for every received row. Real SQLite file, the
 * in-memory Firestore.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { decideReceived } from "../../kernel/arrival.ts"
import { PermanentFailure } from "../../kernel/failure.ts"
import { memoryFirestoreLayer } from "../../kernel/firestore/memory.ts"
import { JobStore } from "../../kernel/store/jobs.ts"
import { arrival, freshStore } from "../support/store.ts"

const world = (reports: Record<string, Record<string, unknown>>) =>
  PermanentFailure.Default.pipe(Layer.provideMerge(freshStore()), Layer.provideMerge(memoryFirestoreLayer({ reports })))

const strandedRow = (docId: string) =>
  Effect.gen(function* () {
    const inserted = yield* (yield* JobStore).insertArrival(arrival(docId, { state: "received", patientId: null }))
    if (inserted._tag !== "Inserted") throw new Error("blocked")
    return inserted.run
  })

describe("a stranded received row is decided again (rule 10)", () => {
  it.scoped("Firestore already says Failed (the write landed): the row ends failed_permanent with the reason", () =>
    Effect.gen(function* () {
      const run = yield* strandedRow("r1")
      yield* decideReceived(run)
      const row = Option.getOrThrow(yield* (yield* JobStore).byId(run.id))
      expect([row.state, row.error_message]).toEqual(["failed_permanent", "report has no patientId"])
    }).pipe(Effect.provide(world({ r1: { status: "Failed", service: "Epi-Insight" } })))
  )

  it.scoped("the document was fixed and is Data Ready: the same row is queued with its patientId", () =>
    Effect.gen(function* () {
      const run = yield* strandedRow("r2")
      yield* decideReceived(run)
      const rows = yield* (yield* JobStore).rowsForDoc("r2")
      expect(rows.map((r) => [r.id, r.state, r.patient_id])).toEqual([[run.id, "queued", "P9"]])
    }).pipe(Effect.provide(world({ r2: { status: "Data Ready", service: "Epi-Insight", patientId: "P9" } })))
  )

  it.scoped("the document is gone: a withdrawal, Firestore untouched", () =>
    Effect.gen(function* () {
      const run = yield* strandedRow("r3")
      yield* decideReceived(run)
      const row = Option.getOrThrow(yield* (yield* JobStore).byId(run.id))
      expect([row.state, row.error_message]).toEqual(["failed_permanent", "Withdrawn from Firestore"])
    }).pipe(Effect.provide(world({})))
  )
})
