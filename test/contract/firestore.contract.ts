/**
 * The FirestorePort contract: one suite that every implementation must pass
 * (the in-memory double in test/firestore/memory.test.ts, the live
 * firebase-admin port against the embedded emulator in
 * test/firestore/live.test.ts). Nothing above the port may tell them apart.
 *
 * Each test gets a fresh backend. Every step waits for the change it causes
 * before the next write, because the real SDK may fold rapid changes into one
 * snapshot while the double never does; the contract pins what both agree on.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option, Queue, Ref, Schedule, type Scope, Stream } from "effect"
import type { ReportChange, ReportData } from "../../schemas/report.ts"
import { DATA_READY, parseReport } from "../../schemas/report.ts"
import { FirestoreError, type FirestorePortShape } from "../../kernel/ports/firestore.ts"

/** A backend under test: the port, plus the outside world's hands on the same documents. */
export interface ContractBackend {
  readonly port: FirestorePortShape
  /** Creates or overwrites `reports/{id}`, as a hospital would. */
  readonly setReport: (id: string, data: ReportData) => Effect.Effect<void, unknown>
  /** Merges into `reports/{id}`. */
  readonly patchReport: (id: string, data: ReportData) => Effect.Effect<void, unknown>
  readonly deleteReport: (id: string) => Effect.Effect<void, unknown>
  readonly setPatient: (id: string, data: ReportData) => Effect.Effect<void, unknown>
  /** Cuts the backend off (emulator stopped, outage begins); documents are kept. */
  readonly stop: Effect.Effect<void, unknown>
  /** Brings it back with the same documents. */
  readonly start: Effect.Effect<void, unknown>
}

export interface ContractOptions {
  /** How long to wait for one change or for recovery; the live backend needs real time. */
  readonly timeout?: Duration.DurationInput
}

const report = (service: string, patientId: string, status: string = DATA_READY): ReportData => ({
  status,
  service,
  patientId
})

/**
 * Subscribes the way the listener actor does: on failure, re-subscribe after a
 * pause (the replayed ADDEDs are the caller's to absorb).
 */
const watch = (port: FirestorePortShape, timeout: Duration.DurationInput) =>
  Effect.gen(function* () {
    const changes = yield* Queue.unbounded<ReportChange>()
    const failures = yield* Ref.make<ReadonlyArray<FirestoreError>>([])
    yield* port.watchDataReady.pipe(
      Stream.tapError((error) => Ref.update(failures, (all) => [...all, error])),
      Stream.retry(Schedule.spaced("100 millis")),
      Stream.runForEach((change) => Queue.offer(changes, change)),
      Effect.forkScoped
    )
    const timedOut = (what: string) => new Error(`no ${what} within ${Duration.format(Duration.decode(timeout))}`)
    /** The very next change: proves nothing else came before it. */
    const next = Queue.take(changes).pipe(Effect.timeoutFail({ duration: timeout, onTimeout: () => timedOut("change") }))
    /** The first change satisfying `predicate`, skipping others (used across a restart). */
    const waitFor = (description: string, predicate: (change: ReportChange) => boolean) =>
      Effect.iterate(Option.none<ReportChange>(), {
        while: Option.isNone,
        body: () => Effect.map(Queue.take(changes), (change) => (predicate(change) ? Option.some(change) : Option.none()))
      }).pipe(Effect.flatten, Effect.timeoutFail({ duration: timeout, onTimeout: () => timedOut(description) }))
    return { next, waitFor, failures }
  })

/** Retries an effect until it succeeds or the timeout passes (a client reconnecting after a restart). */
const eventually = <A, E>(effect: Effect.Effect<A, E>, timeout: Duration.DurationInput) =>
  effect.pipe(
    Effect.retry(Schedule.spaced("200 millis")),
    Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error("did not recover in time") })
  )

export const firestorePortContract = (
  name: string,
  makeBackend: Effect.Effect<ContractBackend, unknown, Scope.Scope>,
  options: ContractOptions = {}
): void => {
  const timeout = options.timeout ?? "10 seconds"
  const recovery = Duration.times(Duration.decode(timeout), 3)

  describe(`FirestorePort contract: ${name}`, () => {
    it.scopedLive("on subscribe, ADDED for every matching document in id order, and nothing for the others", () =>
      Effect.gen(function* () {
        const backend = yield* makeBackend
        yield* backend.setReport("r2", report("Epi-Insight", "P002"))
        yield* backend.setReport("r1", report("Gen-Decoder", "P001"))
        yield* backend.setReport("r3", report("Omni-Health", "P003", "Ordered"))
        const watcher = yield* watch(backend.port, timeout)
        expect(yield* watcher.next).toEqual({ _tag: "Added", id: "r1", data: report("Gen-Decoder", "P001") })
        expect(yield* watcher.next).toEqual({ _tag: "Added", id: "r2", data: report("Epi-Insight", "P002") })
        // A non-matching write, then a matching one: the next change is the matching one.
        yield* backend.setReport("r4", report("Omni-Health", "P004", "Available"))
        yield* backend.setReport("r5", report("Omni-Health", "P005"))
        expect(yield* watcher.next).toEqual({ _tag: "Added", id: "r5", data: report("Omni-Health", "P005") })
      }))

    it.scopedLive("a status change away is REMOVED, back is ADDED again, a field change while matching is MODIFIED", () =>
      Effect.gen(function* () {
        const backend = yield* makeBackend
        const watcher = yield* watch(backend.port, timeout)
        yield* backend.setReport("r1", report("Gen-Decoder", "P001"))
        expect(yield* watcher.next).toMatchObject({ _tag: "Added", id: "r1" })
        yield* backend.patchReport("r1", { status: "Ordered" })
        expect(yield* watcher.next).toEqual({ _tag: "Removed", id: "r1" })
        yield* backend.patchReport("r1", { status: DATA_READY })
        expect(yield* watcher.next).toEqual({ _tag: "Added", id: "r1", data: report("Gen-Decoder", "P001") })
        yield* backend.patchReport("r1", { patientName: "Ada" })
        expect(yield* watcher.next).toEqual({
          _tag: "Modified",
          id: "r1",
          data: { ...report("Gen-Decoder", "P001"), patientName: "Ada" }
        })
      }))

    it.scopedLive("deleting a matching document is REMOVED", () =>
      Effect.gen(function* () {
        const backend = yield* makeBackend
        yield* backend.setReport("r1", report("Epi-Insight", "P001"))
        const watcher = yield* watch(backend.port, timeout)
        expect(yield* watcher.next).toMatchObject({ _tag: "Added", id: "r1" })
        yield* backend.deleteReport("r1")
        expect(yield* watcher.next).toEqual({ _tag: "Removed", id: "r1" })
        expect(yield* backend.port.getReport("r1")).toBeUndefined()
      }))

    it.scopedLive("writeStatus merges into the report, is visible to getReport and to the listener", () =>
      Effect.gen(function* () {
        const backend = yield* makeBackend
        const original = { ...report("Gen-Decoder", "P001"), patientName: "Ada", collectionDate: "2026-01-02" }
        yield* backend.setReport("r1", original)
        const watcher = yield* watch(backend.port, timeout)
        expect(yield* watcher.next).toMatchObject({ _tag: "Added", id: "r1" })

        yield* backend.port.writeStatus("r1", { status: "Failed" })
        expect(yield* watcher.next).toEqual({ _tag: "Removed", id: "r1" })
        expect(yield* backend.port.getReport("r1")).toEqual({ ...original, status: "Failed" })

        yield* backend.port.writeStatus("r1", { status: DATA_READY, manualHoldRelease: true })
        const released = { ...original, manualHoldRelease: true }
        expect(yield* watcher.next).toEqual({ _tag: "Added", id: "r1", data: released })
        expect(yield* backend.port.getReport("r1")).toEqual(released)
      }))

    it.scopedLive("writeStatus to a missing report fails with FirestoreError and does not create it", () =>
      Effect.gen(function* () {
        const backend = yield* makeBackend
        const error = yield* Effect.flip(backend.port.writeStatus("nope", { status: "Failed" }))
        expect(error).toBeInstanceOf(FirestoreError)
        expect(error.message).toContain("reports/nope")
        expect(error.message).not.toContain("\n")
        expect(yield* backend.port.getReport("nope")).toBeUndefined()
      }))

    it.scopedLive("getReport and getPatient return the document, or undefined when it does not exist", () =>
      Effect.gen(function* () {
        const backend = yield* makeBackend
        yield* backend.setReport("r1", report("Omni-Health", "P001", "Ordered"))
        yield* backend.setPatient("P001", { name: "Ada Lovelace", birthDate: "1815-12-10", tags: ["a", "b"] })
        expect(yield* backend.port.getReport("r1")).toEqual(report("Omni-Health", "P001", "Ordered"))
        expect(yield* backend.port.getPatient("P001")).toEqual({
          name: "Ada Lovelace",
          birthDate: "1815-12-10",
          tags: ["a", "b"]
        })
        expect(yield* backend.port.getPatient("P404")).toBeUndefined()
        expect(yield* backend.port.getReport("r404")).toBeUndefined()
      }))

    it.scopedLive("a document with missing or wrong-typed fields is delivered as a normal change; parsing judges it", () =>
      Effect.gen(function* () {
        const backend = yield* makeBackend
        const watcher = yield* watch(backend.port, timeout)
        yield* backend.setReport("bad1", { status: DATA_READY, service: 42 })
        const change = yield* watcher.next
        expect(change).toEqual({ _tag: "Added", id: "bad1", data: { status: DATA_READY, service: 42 } })
        if (change._tag === "Removed") return expect.unreachable()
        const parsed = parseReport(change.id, change.data)
        expect(parsed._tag).toBe("Invalid")
        if (parsed._tag === "Invalid") expect(parsed.reason).toBe("report has no patientId")
      }))

    it.scopedLive(
      "stopped and started again mid-stream: connectivity fails then passes, state is kept, a re-subscribed listener sees later changes",
      () =>
        Effect.gen(function* () {
          const backend = yield* makeBackend
          yield* backend.setReport("r1", report("Gen-Decoder", "P001"))
          yield* backend.port.checkConnectivity
          const watcher = yield* watch(backend.port, timeout)
          expect(yield* watcher.next).toMatchObject({ _tag: "Added", id: "r1" })

          yield* backend.stop
          const down = yield* Effect.flip(backend.port.checkConnectivity)
          expect(down).toBeInstanceOf(FirestoreError)
          expect(down.message).not.toContain("\n")

          yield* backend.start
          yield* eventually(backend.port.checkConnectivity, recovery)
          expect(yield* eventually(backend.port.getReport("r1"), recovery)).toEqual(report("Gen-Decoder", "P001"))

          yield* eventually(backend.setReport("r2", report("Epi-Insight", "P002")), recovery)
          const added = yield* watcher.waitFor("ADDED r2 after restart", (c) => c._tag === "Added" && c.id === "r2")
          expect(added).toEqual({ _tag: "Added", id: "r2", data: report("Epi-Insight", "P002") })
          yield* backend.patchReport("r1", { status: "Failed" })
          yield* watcher.waitFor("REMOVED r1 after restart", (c) => c._tag === "Removed" && c.id === "r1")
        }),
      { timeout: 120_000 }
    )
  })
}
