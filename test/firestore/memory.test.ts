/** The in-memory double: the shared port contract, plus the controls replays rely on. */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Stream, TestClock } from "effect"
import { DATA_READY, type ReportChange } from "../../schemas/report.ts"
import { FirestoreError, FirestorePort } from "../../kernel/ports/firestore.ts"
import { MemoryFirestore, makeMemoryFirestore, memoryFirestoreLayer } from "../../kernel/firestore/memory.ts"
import { firestorePortContract } from "../contract/firestore.contract.ts"

firestorePortContract(
  "in-memory double",
  Effect.map(makeMemoryFirestore(), ({ port, control }) => ({
    port,
    setReport: control.setReport,
    patchReport: control.patchReport,
    deleteReport: control.deleteReport,
    setPatient: control.setPatient,
    stop: control.setOutage(true),
    start: control.setOutage(false)
  })),
  { timeout: "1 second" }
)

const ready = (service: string, patientId: string) => ({ status: DATA_READY, service, patientId })

/**
 * Lets forked consumers run everything they can at this instant (the double
 * delivers synchronously; a consumer needs a couple of scheduler turns to pull).
 */
const settle = Effect.repeatN(Effect.yieldNow(), 10)

/** Everything a subscriber has received so far, without waiting: the double delivers synchronously. */
const subscribe = Effect.gen(function* () {
  const port = yield* FirestorePort
  const received: Array<ReportChange> = []
  const fiber = yield* port.watchDataReady.pipe(
    Stream.runForEach((change) => Effect.sync(() => void received.push(change))),
    Effect.fork
  )
  yield* settle
  return { received, fiber }
})

describe("MemoryFirestore controls", () => {
  it.scoped("changes reach subscribers without the clock moving", () =>
    Effect.gen(function* () {
      const control = yield* MemoryFirestore
      yield* control.setReport("r1", ready("Gen-Decoder", "P001"))
      const { received } = yield* subscribe
      yield* control.setReport("r2", ready("Epi-Insight", "P002"))
      yield* settle
      expect(received.map((c) => `${c._tag} ${c.id}`)).toEqual(["Added r1", "Added r2"])
      expect(yield* TestClock.currentTimeMillis).toBe(0)
    }).pipe(Effect.provide(memoryFirestoreLayer())))

  it.scoped("replayAdded re-emits ADDED for every matching document to every subscriber", () =>
    Effect.gen(function* () {
      const control = yield* MemoryFirestore
      yield* control.setReport("b", ready("Gen-Decoder", "P001"))
      yield* control.setReport("a", ready("Epi-Insight", "P002"))
      yield* control.setReport("c", { ...ready("Epi-Insight", "P003"), status: "Failed" })
      const first = yield* subscribe
      const second = yield* subscribe
      yield* control.replayAdded
      yield* settle
      const expected = ["Added a", "Added b", "Added a", "Added b"]
      expect(first.received.map((c) => `${c._tag} ${c.id}`)).toEqual(expected)
      expect(second.received.map((c) => `${c._tag} ${c.id}`)).toEqual(expected)
    }).pipe(Effect.provide(memoryFirestoreLayer())))

  it.scoped("setWriteFailure fails writes to that document only; reads and connectivity still work", () =>
    Effect.gen(function* () {
      const control = yield* MemoryFirestore
      const port = yield* FirestorePort
      yield* control.setReport("r1", ready("Gen-Decoder", "P001"))
      yield* control.setReport("r2", ready("Gen-Decoder", "P002"))
      yield* control.setWriteFailure("r1", true)
      const error = yield* Effect.flip(port.writeStatus("r1", { status: "Failed" }))
      expect(error).toBeInstanceOf(FirestoreError)
      yield* port.writeStatus("r2", { status: "Failed" })
      yield* port.checkConnectivity
      expect(yield* port.getReport("r1")).toEqual(ready("Gen-Decoder", "P001"))
      yield* control.setWriteFailure("r1", false)
      yield* port.writeStatus("r1", { status: "Failed" })
      expect((yield* port.getReport("r1"))?.status).toBe("Failed")
    }).pipe(Effect.provide(memoryFirestoreLayer())))

  it.scoped("an outage fails live subscriptions, refuses new ones and every call; the world can still edit documents", () =>
    Effect.gen(function* () {
      const control = yield* MemoryFirestore
      const port = yield* FirestorePort
      yield* control.setReport("r1", ready("Gen-Decoder", "P001"))
      const { fiber } = yield* subscribe
      yield* control.setOutage(true)
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* control.subscriberCount).toBe(0)
      expect(yield* Effect.flip(Stream.runDrain(port.watchDataReady))).toBeInstanceOf(FirestoreError)
      expect(yield* Effect.flip(port.checkConnectivity)).toBeInstanceOf(FirestoreError)
      expect(yield* Effect.flip(port.getReport("r1"))).toBeInstanceOf(FirestoreError)
      expect(yield* Effect.flip(port.getPatient("P001"))).toBeInstanceOf(FirestoreError)
      expect(yield* Effect.flip(port.writeStatus("r1", { status: "Failed" }))).toBeInstanceOf(FirestoreError)
      yield* control.replayAdded
      yield* control.setReport("r2", ready("Epi-Insight", "P002"))
      yield* control.setOutage(false)
      const after = yield* Stream.runCollect(Stream.take(port.watchDataReady, 2))
      expect(Chunk.toReadonlyArray(after).map((c) => `${c._tag} ${c.id}`)).toEqual(["Added r1", "Added r2"])
    }).pipe(Effect.provide(memoryFirestoreLayer())))

  it.scoped("patchReport merges nested maps like set-with-merge and creates a missing document", () =>
    Effect.gen(function* () {
      const control = yield* MemoryFirestore
      yield* control.setReport("r1", { ...ready("Omni-Health", "P001"), meta: { a: 1, b: { c: 2 } } })
      yield* control.patchReport("r1", { meta: { b: { d: 3 } }, patientName: "Ada" })
      yield* control.patchReport("r9", { status: "Ordered" })
      expect(yield* control.snapshotReports).toEqual([
        { id: "r1", data: { ...ready("Omni-Health", "P001"), meta: { a: 1, b: { c: 2, d: 3 } }, patientName: "Ada" } },
        { id: "r9", data: { status: "Ordered" } }
      ])
    }).pipe(Effect.provide(memoryFirestoreLayer())))

  it.scoped("snapshotReports lists every report by id in code-unit order, as copies", () =>
    Effect.gen(function* () {
      const control = yield* MemoryFirestore
      yield* control.setReport("r10", ready("Gen-Decoder", "P010"))
      yield* control.setReport("R2", ready("Gen-Decoder", "P002"))
      yield* control.setReport("r2", { status: "Available" })
      const snapshot = yield* control.snapshotReports
      expect(snapshot.map((entry) => entry.id)).toEqual(["R2", "r10", "r2"])
      const first = snapshot[0]
      if (first !== undefined) Object.assign(first.data, { status: "tampered" })
      expect((yield* control.snapshotReports)[0]?.data.status).toBe(DATA_READY)
    }).pipe(Effect.provide(memoryFirestoreLayer())))

  it.scoped("a seed is visible from the start", () =>
    Effect.gen(function* () {
      const port = yield* FirestorePort
      expect(yield* port.getPatient("P001")).toEqual({ name: "Ada" })
      const first = yield* Stream.runHead(port.watchDataReady)
      expect(first._tag === "Some" ? first.value : undefined).toMatchObject({ _tag: "Added", id: "r1" })
    }).pipe(
      Effect.provide(
        memoryFirestoreLayer({ reports: { r1: ready("Gen-Decoder", "P001") }, patients: { P001: { name: "Ada" } } })
      )
    ))
})
