/**
 * A real FirestoreFailedWritten for store tests: the proof can only come from
 * a successful write, so the test makes one to an in-memory Firestore.
 */
import { Effect, Either } from "effect"
import { EventBus } from "../../kernel/events.ts"
import { FirestoreFailedWritten } from "../../kernel/firestoreFailed.ts"
import { makeMemoryFirestore } from "../../kernel/firestore/memory.ts"
import { FirestorePort } from "../../kernel/ports/firestore.ts"

export const failedProof = (docId: string) =>
  Effect.gen(function* () {
    const { port } = yield* makeMemoryFirestore({ reports: { [docId]: { status: "Data Ready" } } })
    const written = yield* FirestoreFailedWritten.write(docId).pipe(
      Effect.provideService(FirestorePort, port),
      Effect.provide(EventBus.Default)
    )
    if (Either.isLeft(written)) return yield* Effect.dieMessage(written.left.message)
    return written.right
  })
