/**
 * Direct edits of `reports` and `patients` documents, as a hospital or an admin
 * would make them: used to seed the embedded emulator, by the demo-doc CLI and
 * by the contract tests. The allocator itself never edits documents this way;
 * it only writes status through the port.
 */
import { Effect, type Scope } from "effect"
import type { Firestore } from "firebase-admin/firestore"
import type { ReportData } from "../../schemas/report.ts"
import type { FirestoreError } from "../ports/firestore.ts"
import { acquireFirestore, type AdminAppOptions } from "./admin-app.ts"
import { toFirestoreError } from "./errors.ts"
import { toPlainData } from "./to-plain.ts"

export type Collection = "reports" | "patients"

export interface DocEditor {
  /** Creates or overwrites the document. */
  readonly set: (collection: Collection, id: string, data: ReportData) => Effect.Effect<void, FirestoreError>
  /** Merges into the document (`set` with `merge: true`), creating it if missing. */
  readonly patch: (collection: Collection, id: string, data: ReportData) => Effect.Effect<void, FirestoreError>
  readonly delete: (collection: Collection, id: string) => Effect.Effect<void, FirestoreError>
  readonly get: (collection: Collection, id: string) => Effect.Effect<ReportData | undefined, FirestoreError>
}

export const makeDocEditor = (db: Firestore): DocEditor => {
  const attempt = <A>(operation: string, run: () => Promise<A>) =>
    Effect.tryPromise({ try: run, catch: toFirestoreError(operation) })
  return {
    set: (collection, id, data) => attempt("set", () => db.collection(collection).doc(id).set(data)).pipe(Effect.asVoid),
    patch: (collection, id, data) =>
      attempt("patch", () => db.collection(collection).doc(id).set(data, { merge: true })).pipe(Effect.asVoid),
    delete: (collection, id) => attempt("delete", () => db.collection(collection).doc(id).delete()).pipe(Effect.asVoid),
    get: (collection, id) =>
      attempt("get", () => db.collection(collection).doc(id).get()).pipe(
        Effect.map((snapshot) => {
          const data = snapshot.data()
          return data === undefined ? undefined : toPlainData(data)
        })
      )
  }
}

export const acquireDocEditor = (options: AdminAppOptions): Effect.Effect<DocEditor, FirestoreError, Scope.Scope> =>
  Effect.map(acquireFirestore(options), makeDocEditor)
