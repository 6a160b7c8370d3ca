/**
 * Operator commands on jobs: skip, retry, mark-failed-for-retry, reset to
 * Data Ready, edited-OCR re-run, and tunable changes.
 *
 * Retry only flips Firestore back to Data Ready; the ADDED that follows makes
 * the new attempt, and passes dedup only because the newest row is
 * failed_permanent (rule 14). Mark-failed-for-retry is the deliberate first
 * step for a succeeded document, Firestore first like every path to
 * failed_permanent.
 */
import { Deferred, Effect, Either, Option } from "effect"
import { type CommandResult, done, type OperatorCommand, refused } from "../schemas/commands.ts"
import { DATA_READY, FAILED } from "../schemas/report.ts"
import { EventBus } from "../kernel/events.ts"
import { PermanentFailure } from "../kernel/failure.ts"
import { writeStatusTraced } from "../kernel/firestoreWrites.ts"
import { JobCommandMailbox } from "../kernel/mailboxes.ts"
import { FirestorePort } from "../kernel/ports/firestore.ts"
import { resolveRunRef } from "../kernel/runRef.ts"
import { JobStore } from "../kernel/store/jobs.ts"
import { TunableStore } from "../kernel/store/tunables.ts"
import { actorLayer } from "../kernel/supervise.ts"
import { nowIso } from "../kernel/time.ts"

const jobCommands = Effect.gen(function* () {
  const mailbox = yield* JobCommandMailbox
  const jobs = yield* JobStore
  const tunables = yield* TunableStore
  const failure = yield* PermanentFailure
  const port = yield* FirestorePort
  const context = yield* Effect.context<JobStore | FirestorePort | EventBus>()

  const firestoreStatus = (doc: string) =>
    port.getReport(doc).pipe(
      Effect.map((data) => (data === undefined ? Either.left(`report ${doc} does not exist`) : Either.right(data.status))),
      Effect.catchAll((e) => Effect.succeed(Either.left(`Firestore read failed: ${e.message}`)))
    )

  const setDataReady = (doc: string) =>
    writeStatusTraced(doc, { status: DATA_READY }).pipe(
      Effect.map((r) => (Either.isRight(r) ? done(`${doc} set to Data Ready`) : refused(`Firestore write failed: ${r.left.message}`))),
      Effect.provide(context)
    )

  const handle = (command: OperatorCommand, user: string): Effect.Effect<CommandResult> =>
    Effect.gen(function* () {
      switch (command._tag) {
        case "skip": {
          const resolved = yield* resolveRunRef(command).pipe(Effect.provide(context))
          if (Either.isLeft(resolved)) return refused(resolved.left)
          const run = resolved.right
          if (run.state !== "waiting_cooldown") return refused(`run ${run.id} is ${run.state}, not waiting_cooldown`)
          const moved = yield* jobs.skip(run.id)
          return Option.isSome(moved) ? done(`run ${run.id} queued now`, run.id) : refused(`run ${run.id} moved on first`)
        }
        case "retry": {
          const status = yield* firestoreStatus(command.doc)
          if (Either.isLeft(status)) return refused(status.left)
          if (status.right !== FAILED) return refused(`${command.doc} is ${JSON.stringify(status.right)} in Firestore, not Failed`)
          return yield* setDataReady(command.doc)
        }
        case "reset_data_ready": {
          const status = yield* firestoreStatus(command.doc)
          if (Either.isLeft(status)) return refused(status.left)
          if (status.right === DATA_READY) return refused(`${command.doc} is already Data Ready`)
          return yield* setDataReady(command.doc)
        }
        case "mark_failed_for_retry": {
          const newest = yield* jobs.newestForDoc(command.doc)
          if (Option.isNone(newest)) return refused(`no runs for document ${command.doc}`)
          if (newest.value.state !== "succeeded") {
            return refused(`${command.doc}'s newest run is ${newest.value.state}, not succeeded`)
          }
          const outcome = yield* failure.failPermanently({
            run: newest.value,
            from: ["succeeded"],
            reason: `Marked failed for retry by ${user}`,
            exitCode: newest.value.exit_code,
            email: false,
            onWriteFailure: "refuse"
          })
          if (outcome._tag === "FailedPermanent") return done(`${command.doc} marked failed; Retry will run it again`, newest.value.id)
          if (outcome._tag === "WriteFailed") return refused(`Firestore write failed: ${outcome.message}`)
          return refused(`${command.doc}'s run changed first`)
        }
        case "regenerate_ocr": {
          const newest = yield* jobs.newestForDoc(command.doc)
          if (Option.isNone(newest)) return refused(`no runs for document ${command.doc}`)
          const last = newest.value
          if (last.service !== "Omni-Health") return refused(`${command.doc} is ${last.service}; OCR re-runs are for Omni-Health`)
          if (last.state !== "succeeded") return refused(`${command.doc}'s newest run is ${last.state}, not succeeded`)
          const inserted = yield* jobs.insertIfIdle({
            docId: last.doc_id,
            service: last.service,
            patientId: last.patient_id,
            patientName: last.patient_name,
            collectionDate: last.collection_date,
            state: "queued",
            attempt: 1,
            scheduledRunAt: yield* nowIso,
            notes: "ocr_rerun"
          })
          return Option.match(inserted, {
            onNone: () => refused(`${command.doc} already has an active run`),
            onSome: (run) => done(`OCR re-run queued as run ${run.id}`, run.id)
          })
        }
        case "set_tunable": {
          const result = yield* Effect.either(tunables.set(command.key, command.value, user))
          return Either.isRight(result) ? done(`${command.key} = ${String(command.value)}`) : refused(result.left.message)
        }
        default:
          return refused(`job commands cannot run ${command._tag}`)
      }
    })

  return yield* mailbox.serve((envelope) =>
    handle(envelope.command, envelope.user).pipe(Effect.flatMap((result) => Deferred.succeed(envelope.reply, result)))
  )
})

export const JobCommandsLive = actorLayer("job-commands", jobCommands)
