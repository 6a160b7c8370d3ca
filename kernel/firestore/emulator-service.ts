/**
 * The emulator's gRPC service, with one fix.
 *
 * `@firestore-emulator/server` bundles each entry point separately, so the
 * service class (imported from its own file, because the package does not
 * export it) and the FirestoreState we construct carry two copies of the
 * package's error class. Its Commit recognises state errors by `instanceof`
 * and so turns a NOT_FOUND ("no document to update") into UNKNOWN "Something
 * went wrong", logging a stack trace. Commit is re-done here mapping errors by
 * their gRPC code, which is what a real Firestore answers.
 */
import { FirestoreServiceV1Impl } from "@firestore-emulator/server/dist/server/FirestoreServiceV1Impl/index.js"
import { type FirestoreState, TimestampFromDate } from "@firestore-emulator/server"
import { CommitResponse, type CommitRequest } from "@firestore-emulator/proto/dist/google/firestore/v1/firestore.js"
import { type sendUnaryData, type ServerUnaryCall, status } from "@grpc/grpc-js"
import { describeError, grpcCode } from "./errors.ts"

export class EmulatorService extends FirestoreServiceV1Impl {
  readonly #documents: FirestoreState
  readonly #now: () => Date

  /** `now` stamps commit and update times, as Firestore's server clock does. */
  constructor(state: FirestoreState, now: () => Date) {
    super(state)
    this.#documents = state
    this.#now = now
  }

  override Commit(call: ServerUnaryCall<CommitRequest, CommitResponse>, callback: sendUnaryData<CommitResponse>): void {
    const date = this.#now()
    try {
      const results = call.request.writes.map((write) => this.#documents.writeV1Document(date, write))
      callback(
        null,
        CommitResponse.fromObject({
          commit_time: TimestampFromDate(date),
          write_results: results.map((result) => result.toObject())
        })
      )
    } catch (error) {
      callback({ name: "Error", code: grpcCode(error) ?? status.UNKNOWN, message: describeError(error) }, null)
    }
  }
}
