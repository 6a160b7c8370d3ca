/**
 * Proof that Firestore says `Failed` for a document (rule 6).
 *
 * The store's `failPermanent` takes one, so a row cannot reach
 * `failed_permanent` on an allocator verdict unless Firestore accepted the
 * write first. The constructor is private and the brand is an ES private
 * field: no object literal, cast-free code or other module can make one; the
 * only way is `FirestoreFailedWritten.write`, which returns it after the
 * write succeeded.
 */
import { Effect, Either } from "effect"
import { FAILED } from "../schemas/report.ts"
import { writeStatusTraced } from "./firestoreWrites.ts"

export class FirestoreFailedWritten {
  readonly #written = true
  private constructor(readonly docId: string) {}

  /** Writes `status = Failed` to `reports/{docId}`; the proof when Firestore accepted it, the error otherwise. */
  static write(docId: string) {
    return Effect.map(writeStatusTraced(docId, { status: FAILED }), Either.map(() => new FirestoreFailedWritten(docId)))
  }

  /** Whether this proof is about `docId` (the store refuses a proof for another document). */
  covers(docId: string): boolean {
    return this.#written && this.docId === docId
  }
}
