/** Allocator writes to Firestore, each one traced with what it tried and whether it worked. */
import { Effect, Either } from "effect"
import { EventBus } from "./events.ts"
import { FirestorePort, type StatusWrite } from "./ports/firestore.ts"

export const writeStatusTraced = (docId: string, write: StatusWrite) =>
  Effect.gen(function* () {
    const port = yield* FirestorePort
    const events = yield* EventBus
    const result = yield* Effect.either(port.writeStatus(docId, write))
    yield* events.publish({ _tag: "firestore_write", doc: docId, fields: { ...write }, ok: Either.isRight(result) })
    if (Either.isLeft(result)) {
      yield* Effect.logWarning(`Firestore write to ${docId} failed: ${result.left.message}`)
    }
    return result
  })
