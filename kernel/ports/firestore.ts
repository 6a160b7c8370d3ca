/**
 * The Firestore port: the allocator's only view of Firestore.
 *
 * Two implementations pass one contract suite (test/contract/firestore.contract.ts):
 * the live one on firebase-admin and the in-memory double used by replays.
 * Nothing above this port knows which one it has.
 */
import { Context, Data, type Effect, type Stream } from "effect"
import type { ReportChange, ReportData } from "../../schemas/report.ts"

export class FirestoreError extends Data.TaggedError("FirestoreError")<{
  readonly operation: string
  readonly message: string
}> {}

export interface StatusWrite {
  readonly status: string
  /** Set on Release so the dispatcher skips Gen-Decoder's cooldown. */
  readonly manualHoldRelease?: boolean
}

export interface FirestorePortShape {
  /**
   * Changes to `reports` where `status == "Data Ready"`. The first emissions are
   * ADDED for every matching document. The stream fails when the listener
   * breaks; the caller re-subscribes (and dedup absorbs the replayed ADDEDs).
   */
  readonly watchDataReady: Stream.Stream<ReportChange, FirestoreError>
  readonly getReport: (id: string) => Effect.Effect<ReportData | undefined, FirestoreError>
  readonly getPatient: (id: string) => Effect.Effect<ReportData | undefined, FirestoreError>
  /** Merges `status` (and the release flag) into `reports/{id}`. */
  readonly writeStatus: (id: string, write: StatusWrite) => Effect.Effect<void, FirestoreError>
  /** A bounded read of the `reports` collection; fails when Firestore is unreachable. */
  readonly checkConnectivity: Effect.Effect<void, FirestoreError>
}

export class FirestorePort extends Context.Tag("kernel/FirestorePort")<FirestorePort, FirestorePortShape>() {}
