/**
 * Rule 2's manual retry, and an ADDED older than the failure it follows.
 * A newest `failed_permanent` row lets an ADDED create a fresh attempt 1
 * (an operator set the report back to Data Ready). But a kernel's first
 * snapshot can hold a document as Data Ready while a pipeline it re-adopted
 * fails for good and the kernel writes `Failed`: that ADDED is older than
 * the failure and must not open a new attempt (seen in the kernel chaos
 * run). The document as Firestore has it now decides. Real SQLite file,
 * the in-memory Firestore.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { arrive } from "../../kernel/arrival.ts"
import { PermanentFailure } from "../../kernel/failure.ts"
import { memoryFirestoreLayer } from "../../kernel/firestore/memory.ts"
import { JobStore } from "../../kernel/store/jobs.ts"
import { arrival, freshStore } from "../support/store.ts"

const world = (reports: Record<string, Record<string, unknown>>) =>
  PermanentFailure.Default.pipe(Layer.provideMerge(freshStore()), Layer.provideMerge(memoryFirestoreLayer({ reports })))

const dataReady = { status: "Data Ready", service: "Epi-Insight", patientId: "P1" }

/** A document whose only row failed for good, then an ADDED carrying it as Data Ready. */
const failedThenAdded = (docId: string) =>
  Effect.gen(function* () {
    const jobs = yield* JobStore
    yield* jobs.insertArrival(arrival(docId))
    // A withdrawal is the shortest way to a failed_permanent row here; any ending in that state blocks alike.
    yield* jobs.withdraw(docId)
    yield* arrive(docId, dataReady)
    return (yield* jobs.rowsForDoc(docId)).map((r) => [r.state, r.attempt])
  })

describe("an ADDED after a failed_permanent row (rule 2)", () => {
  it.scoped("the document is Data Ready again (a manual retry): a fresh attempt 1 is queued", () =>
    failedThenAdded("d1").pipe(
      Effect.map((rows) => expect(rows).toEqual([["failed_permanent", 1], ["queued", 1]])),
      Effect.provide(world({ d1: dataReady }))
    )
  )

  it.scoped("the document says Failed now (the ADDED was older than the failure): no new row", () =>
    failedThenAdded("d2").pipe(
      Effect.map((rows) => expect(rows).toEqual([["failed_permanent", 1]])),
      Effect.provide(world({ d2: { ...dataReady, status: "Failed" } }))
    )
  )

  it.scoped("the document is gone: no new row", () =>
    failedThenAdded("d3").pipe(
      Effect.map((rows) => expect(rows).toEqual([["failed_permanent", 1]])),
      Effect.provide(world({}))
    )
  )
})
