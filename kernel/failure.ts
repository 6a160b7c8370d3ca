/**
 * The one way a row reaches `failed_permanent` (withdrawal aside).
 *
 * Order matters (rule 6): Firestore `Failed` is written first, while the row is
 * still active and so still blocks dedup; once Firestore commits, the listener
 * stops seeing the document and no replayed ADDED can start a parallel
 * attempt. Only then does SQLite change. When the write fails, the
 * connectivity check decides: Firestore reachable means a per-document problem
 * (rule 7, `failed_sync` plus a `sync_retry` row), unreachable means outage
 * (rule 12: the row stays as it is and the write waits for Firestore).
 */
import { Effect, Either, Option } from "effect"
import type { JobRun, JobState } from "../schemas/job.ts"
import { EventBus } from "./events.ts"
import { FirestoreFailedWritten } from "./firestoreFailed.ts"
import { NotifierMailbox } from "./mailboxes.ts"
import { Outage } from "./outage.ts"
import { FirestorePort } from "./ports/firestore.ts"
import { JobStore } from "./store/jobs.ts"
import { TunableStore } from "./store/tunables.ts"
import { isoAfter } from "./time.ts"

export const FIRESTORE_SYNC_FAILED = "[FIRESTORE_SYNC_FAILED]"

export interface FailRequest {
  readonly run: JobRun
  /** States the row may be in when SQLite is finally changed. */
  readonly from: ReadonlyArray<JobState>
  readonly reason: string
  readonly exitCode: number | null
  /** A permanent_failure email: yes for the allocator's own verdicts, no when an operator acted. */
  readonly email: boolean
  /** `sync_retry`: rules 7 and 12 apply. `refuse`: report the failed write and change nothing (operator commands). */
  readonly onWriteFailure: "sync_retry" | "refuse"
  readonly logFile?: string
}

export type FailOutcome =
  | { readonly _tag: "FailedPermanent"; readonly run: JobRun }
  | { readonly _tag: "LostRace" }
  | { readonly _tag: "FailedSync"; readonly retry: JobRun }
  | { readonly _tag: "Outage" }
  | { readonly _tag: "WriteFailed"; readonly message: string }

export class PermanentFailure extends Effect.Service<PermanentFailure>()("kernel/PermanentFailure", {
  effect: Effect.gen(function* () {
    const context = yield* Effect.context<FirestorePort | EventBus>()
    const port = yield* FirestorePort
    const jobs = yield* JobStore
    const outage = yield* Outage
    const tunables = yield* TunableStore
    const notifier = yield* NotifierMailbox

    const email = (request: FailRequest, run: JobRun, errorMessage: string) =>
      request.email
        ? notifier.post({
            template: "permanent_failure",
            context: {
              docId: run.doc_id,
              service: run.service,
              patientId: run.patient_id ?? "",
              ...(run.patient_name ? { patientName: run.patient_name } : {}),
              attempt: run.attempt,
              errorMessage
            },
            ...(request.logFile ? { logFile: request.logFile } : {})
          })
        : Effect.void

    const failPermanently = (request: FailRequest): Effect.Effect<FailOutcome> =>
      Effect.gen(function* () {
        const { run } = request
        const written = yield* FirestoreFailedWritten.write(run.doc_id).pipe(Effect.provide(context))
        if (Either.isRight(written)) {
          const ended = yield* jobs.failPermanent(
            run.id,
            request.from,
            { exitCode: request.exitCode, errorMessage: request.reason },
            written.right
          )
          if (Option.isNone(ended)) {
            yield* Effect.logWarning(`run ${run.id}: not marked failed_permanent, its state moved on first`)
            return { _tag: "LostRace" } as const
          }
          yield* email(request, ended.value, request.reason)
          return { _tag: "FailedPermanent", run: ended.value } as const
        }
        const reachable = Either.isRight(yield* Effect.either(port.checkConnectivity))
        if (request.onWriteFailure === "refuse") {
          if (!reachable) yield* outage.enter
          return { _tag: "WriteFailed", message: written.left.message } as const
        }
        if (!reachable) {
          yield* outage.enter
          yield* outage.defer(run.id, Effect.asVoid(failPermanently(request)))
          return { _tag: "Outage" } as const
        }
        const message = `${FIRESTORE_SYNC_FAILED} ${request.reason} (Firestore write failed: ${written.left.message})`
        const delay = (yield* tunables.get).FAILED_SYNC_RETRY_DELAY_SECONDS
        // Only an allocator verdict takes the sync_retry path: a report that cannot run is
        // `received`, a pipeline's verdict is `running` (the state machine allows both to
        // reach failed_sync, so the row can never be left stuck).
        const from = run.state === "received" ? "received" : "running"
        const retry = yield* jobs.endWithFollowUp(
          run.id,
          from,
          "failed_sync",
          { exitCode: request.exitCode, errorMessage: message },
          { state: "waiting_cooldown", attempt: 1, scheduledRunAt: yield* isoAfter(delay), notes: "sync_retry" }
        )
        if (Option.isNone(retry)) return { _tag: "LostRace" } as const
        yield* email(request, run, message)
        return { _tag: "FailedSync", retry: retry.value } as const
      })

    return { failPermanently }
  })
}) {}
