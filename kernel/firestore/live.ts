/**
 * The live FirestorePort on firebase-admin.
 *
 * Talks to the real project, or to an emulator when FIRESTORE_EMULATOR_HOST is
 * set (firebase-admin reads it when the client is created). The listener is
 * `onSnapshot` on `reports where status == "Data Ready"`; the SDK retries
 * transient stream errors by itself, and anything it gives up on fails the
 * stream so the listener actor re-subscribes with its own backoff.
 *
 * Every call is bounded in time: during an outage the SDK keeps retrying reads
 * for about a minute, and a worker waiting on Firestore must learn quickly that
 * it is unreachable so it can enter outage mode instead of hanging.
 */
import { Effect, Either, Layer, type Scope, Stream } from "effect"
import type { DocumentChange, DocumentData, DocumentReference, Firestore } from "firebase-admin/firestore"
import type { StaticConfig } from "../../schemas/config.ts"
import { DATA_READY, type ReportChange, type ReportData } from "../../schemas/report.ts"
import { FirestoreError, FirestorePort, type FirestorePortShape, type StatusWrite } from "../ports/firestore.ts"
import { acquireFirestore, type AdminAppOptions } from "./admin-app.ts"
import { GRPC_NOT_FOUND, grpcCode, toFirestoreError } from "./errors.ts"
import { toPlainData } from "./to-plain.ts"

export interface LiveFirestoreOptions extends AdminAppOptions {
  /** Bound of the connectivity check; other calls get a few times this. */
  readonly connectivityTimeoutMs: number
}

/**
 * How long the listener may be silent before the stream probes Firestore.
 * With the default 5 s connectivity timeout an outage is seen within
 * 3 + 5 s, inside rule 12's 15 s.
 */
export const SILENCE_PROBE_MS = 3000

/** A read or write may legitimately take longer than a one-document probe, but not forever. */
const OPERATION_TIMEOUT_FACTOR = 3

const toChange = (change: DocumentChange<DocumentData>): ReportChange => {
  const id = change.doc.id
  switch (change.type) {
    case "added":
      return { _tag: "Added", id, data: toPlainData(change.doc.data()) }
    case "modified":
      return { _tag: "Modified", id, data: toPlainData(change.doc.data()) }
    case "removed":
      return { _tag: "Removed", id }
  }
}

export const makeLivePort = (db: Firestore, options: LiveFirestoreOptions): FirestorePortShape => {
  const reports = db.collection("reports")
  const patients = db.collection("patients")

  const bounded = <A>(
    operation: string,
    timeoutMs: number,
    run: () => Promise<A>,
    onError: (cause: unknown) => FirestoreError = toFirestoreError(operation)
  ): Effect.Effect<A, FirestoreError> =>
    // Interruptible even inside a caller's uninterruptible region (the worker's outcome routing),
    // or the timeout could never abandon a hung SDK call.
    Effect.tryPromise({ try: run, catch: onError }).pipe(
      Effect.interruptible,
      Effect.timeoutFail({
        duration: timeoutMs,
        onTimeout: () =>
          new FirestoreError({
            operation,
            message: `Firestore (project ${options.projectId}) did not answer within ${timeoutMs} ms`
          })
      })
    )
  const operationTimeoutMs = options.connectivityTimeoutMs * OPERATION_TIMEOUT_FACTOR

  const readDoc = (operation: string, ref: DocumentReference) =>
    bounded(operation, operationTimeoutMs, () => ref.get()).pipe(
      Effect.map((snapshot): ReportData | undefined => {
        const data = snapshot.data()
        return data === undefined ? undefined : toPlainData(data)
      })
    )

  const checkConnectivity = bounded("checkConnectivity", options.connectivityTimeoutMs, () => reports.limit(1).get()).pipe(
    Effect.asVoid
  )

  /**
   * The SDK hides a lost backend: onSnapshot keeps retrying for minutes
   * without an error. So while the listener is silent (no snapshot for
   * SILENCE_PROBE_MS), the stream probes connectivity itself and fails with
   * the probe's error, which the listener takes as "unreachable" (rule 12:
   * an outage is noticed within 15 s whether or not anything is written).
   */
  const watchDataReady = Stream.asyncPush<ReportChange, FirestoreError>(
    (emit) =>
      Effect.gen(function* () {
        let heard = 0
        yield* Effect.acquireRelease(
          Effect.sync(() =>
            reports.where("status", "==", DATA_READY).onSnapshot(
              (snapshot) => {
                heard += 1
                const changes = snapshot.docChanges()
                if (changes.length > 0) emit.array(changes.map(toChange))
              },
              (error) => emit.fail(toFirestoreError("watchDataReady")(error))
            )
          ),
          (unsubscribe) => Effect.sync(unsubscribe)
        )
        const probeWhileSilent = Effect.gen(function* () {
          let seen = heard
          for (;;) {
            yield* Effect.sleep(SILENCE_PROBE_MS)
            if (heard !== seen) {
              seen = heard
              continue
            }
            const probe = yield* Effect.either(checkConnectivity)
            if (Either.isLeft(probe)) return emit.fail(probe.left)
          }
        })
        yield* Effect.forkScoped(probeWhileSilent)
      }),
    { bufferSize: "unbounded" }
  )

  const writeStatus = (id: string, write: StatusWrite): Effect.Effect<void, FirestoreError> => {
    const fields: Record<string, string | boolean> = { status: write.status }
    if (write.manualHoldRelease !== undefined) fields.manualHoldRelease = write.manualHoldRelease
    // `update`, not `set`: a deleted report must fail the write, never come back as a stub holding only a status.
    return bounded("writeStatus", operationTimeoutMs, () => reports.doc(id).update(fields), (cause) =>
      grpcCode(cause) === GRPC_NOT_FOUND
        ? new FirestoreError({ operation: "writeStatus", message: `reports/${id} does not exist` })
        : toFirestoreError("writeStatus")(cause)
    ).pipe(Effect.asVoid)
  }

  return {
    watchDataReady,
    getReport: (id) => readDoc("getReport", reports.doc(id)),
    getPatient: (id) => readDoc("getPatient", patients.doc(id)),
    writeStatus,
    checkConnectivity
  }
}

export const makeLiveFirestore = (options: LiveFirestoreOptions): Effect.Effect<FirestorePortShape, FirestoreError, Scope.Scope> =>
  Effect.map(acquireFirestore(options), (db) => makeLivePort(db, options))

export const liveFirestoreLayer = (options: LiveFirestoreOptions): Layer.Layer<FirestorePort, FirestoreError> =>
  Layer.scoped(FirestorePort, makeLiveFirestore(options))

/** The live port as the static config describes it (the `mode` key is the composer's business). */
export const liveFirestoreLayerFromConfig = (config: StaticConfig): Layer.Layer<FirestorePort, FirestoreError> =>
  liveFirestoreLayer(config.firestore)
