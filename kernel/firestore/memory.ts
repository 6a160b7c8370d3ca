/**
 * The in-memory Firestore double used by replays and tests.
 *
 * It implements FirestorePort with the same listener semantics as Firestore's
 * `reports where status == "Data Ready"` query, and exposes a control service
 * (MemoryFirestore) through which a fixture plays "the rest of the world":
 * hospitals editing documents, a document whose writes fail, a full outage.
 *
 * Everything is synchronous: each operation is one `Effect.sync` that updates
 * the store and pushes the resulting changes into unbounded subscriber
 * mailboxes before it returns. No timers, no fibers of its own, so a replay
 * that drains its fibers at a TestClock instant sees every consequence of a
 * step at that instant, in the same order every run.
 */
import { Context, Effect, Layer, Stream, type StreamEmit } from "effect"
import { DATA_READY, type ReportChange, type ReportData } from "../../schemas/report.ts"
import { FirestoreError, FirestorePort, type FirestorePortShape, type StatusWrite } from "../ports/firestore.ts"

export interface MemoryFirestoreShape {
  /** `reports/{id}` is set to `data` (created or overwritten). */
  readonly setReport: (id: string, data: ReportData) => Effect.Effect<void>
  /** Merges `data` into `reports/{id}` like `set(data, { merge: true })`: nested maps merge, a missing doc is created. */
  readonly patchReport: (id: string, data: ReportData) => Effect.Effect<void>
  readonly deleteReport: (id: string) => Effect.Effect<void>
  readonly setPatient: (id: string, data: ReportData) => Effect.Effect<void>
  /** Re-emits ADDED for every matching document to every live subscriber (an SDK reconnect); nothing during an outage. */
  readonly replayAdded: Effect.Effect<void>
  /** While on, port writes to `reports/{docId}` fail; reads and connectivity still succeed. */
  readonly setWriteFailure: (docId: string, failing: boolean) => Effect.Effect<void>
  /** While on, every port call fails, live subscriptions fail and new ones are refused. */
  readonly setOutage: (down: boolean) => Effect.Effect<void>
  /** Every report as it stands, ordered by id (plain code-unit order, locale-independent). */
  readonly snapshotReports: Effect.Effect<ReadonlyArray<{ readonly id: string; readonly data: ReportData }>>
  /** How many listeners are attached; lets tests and replays wait for a re-subscription. */
  readonly subscriberCount: Effect.Effect<number>
}

export class MemoryFirestore extends Context.Tag("kernel/MemoryFirestore")<MemoryFirestore, MemoryFirestoreShape>() {}

export interface MemorySeed {
  readonly reports?: Readonly<Record<string, ReportData>>
  readonly patients?: Readonly<Record<string, ReportData>>
}

type Emit = StreamEmit.EmitOpsPush<FirestoreError, ReportChange>

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

const matches = (data: ReportData | undefined): data is ReportData => data !== undefined && data.status === DATA_READY

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Firestore's merge: maps merge key by key, every other value replaces. */
const mergeDeep = (base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(patch)) {
    const current = out[key]
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeDeep(current, value) : value
  }
  return out
}

/** Callers never share objects with the store, so a consumer mutating a change cannot rewrite history. */
const copy = (data: ReportData): ReportData => structuredClone(data)

export const makeMemoryFirestore = (seed: MemorySeed = {}) =>
  Effect.sync(() => {
    const reports = new Map<string, ReportData>(Object.entries(seed.reports ?? {}).map(([id, d]) => [id, copy(d)]))
    const patients = new Map<string, ReportData>(Object.entries(seed.patients ?? {}).map(([id, d]) => [id, copy(d)]))
    const subscribers = new Set<Emit>()
    const failingWrites = new Set<string>()
    let outage = false

    const unavailable = (operation: string) =>
      new FirestoreError({ operation, message: "Firestore is unreachable (simulated outage)" })

    /** One document moved from `before` to `after`: tell the listeners what the query saw. */
    const applyReport = (id: string, after: ReportData | undefined) => {
      const before = reports.get(id)
      if (after === undefined) reports.delete(id)
      else reports.set(id, after)
      if (matches(after)) {
        const tag = matches(before) ? "Modified" : "Added"
        for (const emit of subscribers) emit.single({ _tag: tag, id, data: copy(after) })
      } else if (matches(before)) {
        for (const emit of subscribers) emit.single({ _tag: "Removed", id })
      }
    }

    const matchingSorted = () =>
      [...reports.entries()].filter(([, data]) => matches(data)).sort(([a], [b]) => byId(a, b))

    const guard = <A>(operation: string, body: () => A): Effect.Effect<A, FirestoreError> =>
      Effect.suspend(() => (outage ? Effect.fail(unavailable(operation)) : Effect.succeed(body())))

    const watchDataReady: FirestorePortShape["watchDataReady"] = Stream.asyncPush<ReportChange, FirestoreError>(
      (emit) =>
        Effect.acquireRelease(
          guard("watchDataReady", () => {
            subscribers.add(emit)
            for (const [id, data] of matchingSorted()) emit.single({ _tag: "Added", id, data: copy(data) })
            return emit
          }),
          (registered) => Effect.sync(() => subscribers.delete(registered))
        ),
      { bufferSize: "unbounded" }
    )

    const writeStatus = (id: string, write: StatusWrite): Effect.Effect<void, FirestoreError> =>
      Effect.suspend(() => {
        if (outage) return Effect.fail(unavailable("writeStatus"))
        if (failingWrites.has(id)) {
          return Effect.fail(new FirestoreError({ operation: "writeStatus", message: `write to reports/${id} failed (simulated)` }))
        }
        const current = reports.get(id)
        if (current === undefined) {
          return Effect.fail(new FirestoreError({ operation: "writeStatus", message: `reports/${id} does not exist` }))
        }
        const fields: Record<string, unknown> = { status: write.status }
        if (write.manualHoldRelease !== undefined) fields.manualHoldRelease = write.manualHoldRelease
        applyReport(id, { ...current, ...fields })
        return Effect.void
      })

    const port: FirestorePortShape = {
      watchDataReady,
      getReport: (id) => guard("getReport", () => {
        const data = reports.get(id)
        return data === undefined ? undefined : copy(data)
      }),
      getPatient: (id) => guard("getPatient", () => {
        const data = patients.get(id)
        return data === undefined ? undefined : copy(data)
      }),
      writeStatus,
      checkConnectivity: guard("checkConnectivity", () => undefined)
    }

    const control: MemoryFirestoreShape = {
      setReport: (id, data) => Effect.sync(() => applyReport(id, copy(data))),
      patchReport: (id, data) => Effect.sync(() => applyReport(id, mergeDeep(reports.get(id) ?? {}, copy(data)))),
      deleteReport: (id) => Effect.sync(() => {
        if (reports.has(id)) applyReport(id, undefined)
      }),
      setPatient: (id, data) => Effect.sync(() => void patients.set(id, copy(data))),
      replayAdded: Effect.sync(() => {
        if (outage) return
        for (const [id, data] of matchingSorted()) {
          for (const emit of subscribers) emit.single({ _tag: "Added", id, data: copy(data) })
        }
      }),
      setWriteFailure: (docId, failing) => Effect.sync(() => {
        if (failing) failingWrites.add(docId)
        else failingWrites.delete(docId)
      }),
      setOutage: (down) => Effect.sync(() => {
        outage = down
        if (!down) return
        // A broken connection ends every listener; the listener actor re-subscribes once Firestore is back.
        for (const emit of subscribers) emit.fail(unavailable("watchDataReady"))
        subscribers.clear()
      }),
      snapshotReports: Effect.sync(() =>
        [...reports.entries()].sort(([a], [b]) => byId(a, b)).map(([id, data]) => ({ id, data: copy(data) }))
      ),
      subscriberCount: Effect.sync(() => subscribers.size)
    }

    return { port, control } as const
  })

/** Provides both the port and its control service, sharing one store. */
export const memoryFirestoreLayer = (seed: MemorySeed = {}): Layer.Layer<FirestorePort | MemoryFirestore> =>
  Layer.effectContext(
    Effect.map(makeMemoryFirestore(seed), ({ port, control }) =>
      Context.make(FirestorePort, port).pipe(Context.add(MemoryFirestore, control))
    )
  )
