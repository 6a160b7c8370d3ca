/**
 * Manual holds (rule 11): orders whose lab data will not arrive on its own.
 *
 * Manual Add records a `holding` hold after checking the report (exists, not
 * already Data Ready, managed service, patient document present, no hold
 * yet), writes the patient trees and emails the lab team. Release writes
 * Data Ready plus manualHoldRelease (so Gen-Decoder skips its cooldown) and
 * refuses, keeping the hold, when the report is somehow Data Ready already.
 */
import { Deferred, Effect, Either, Option } from "effect"
import { type CommandResult, done, type OperatorCommand, refused } from "../schemas/commands.ts"
import { DATA_READY } from "../schemas/report.ts"
import { AppConfig } from "../kernel/config.ts"
import { EventBus } from "../kernel/events.ts"
import { writeStatusTraced } from "../kernel/firestoreWrites.ts"
import { HoldMailbox, NotifierMailbox } from "../kernel/mailboxes.ts"
import { validateManualAdd } from "../kernel/manualAdd.ts"
import { patientInfoContent, writePatientInfo } from "../kernel/patientInfo.ts"
import { FirestorePort } from "../kernel/ports/firestore.ts"
import { HoldStore } from "../kernel/store/holds.ts"
import { actorLayer } from "../kernel/supervise.ts"

const holdsActor = Effect.gen(function* () {
  const mailbox = yield* HoldMailbox
  const holds = yield* HoldStore
  const port = yield* FirestorePort
  const config = yield* AppConfig
  const notifier = yield* NotifierMailbox
  const context = yield* Effect.context<FirestorePort | HoldStore | EventBus>()

  const handle = (command: OperatorCommand, user: string): Effect.Effect<CommandResult> =>
    Effect.gen(function* () {
      switch (command._tag) {
        case "manual_add": {
          const checked = yield* validateManualAdd(command.doc).pipe(Effect.provide(context))
          if (Either.isLeft(checked)) return refused(checked.left)
          const { doc, service, patientId, report, patient } = checked.right
          const files = yield* Effect.either(
            writePatientInfo(
              [config.paths.patientBaseDir, config.paths.userDataDir],
              patientId,
              doc,
              patientInfoContent(doc, service, patientId, report, patient),
              false
            )
          )
          if (Either.isLeft(files)) return refused(files.left.message)
          const created = yield* holds.create({ docId: doc, service, patientId, createdBy: user })
          if (Option.isNone(created)) return refused(`report ${doc} is already on hold`)
          yield* notifier.post({
            template: "manual_add",
            context: {
              docId: doc,
              service,
              patientId,
              ...(typeof report.patientName === "string" ? { patientName: report.patientName } : {})
            }
          })
          return done(`hold created for ${doc}`)
        }
        case "release": {
          if (Option.isNone(yield* holds.holdingFor(command.doc))) return refused(`report ${command.doc} has no hold`)
          const report = yield* Effect.either(port.getReport(command.doc))
          if (Either.isLeft(report)) return refused(`Firestore read failed: ${report.left.message}`)
          if (report.right === undefined) return refused(`report ${command.doc} does not exist`)
          if (report.right.status === DATA_READY) {
            return refused(`report ${command.doc} is already Data Ready; hold kept so you can investigate`)
          }
          const written = yield* writeStatusTraced(command.doc, { status: DATA_READY, manualHoldRelease: true }).pipe(
            Effect.provide(context)
          )
          if (Either.isLeft(written)) return refused(`Firestore write failed: ${written.left.message}`)
          yield* holds.release(command.doc)
          return done(`${command.doc} released`)
        }
        case "cancel_hold": {
          const cancelled = yield* holds.cancel(command.doc)
          return Option.isSome(cancelled) ? done(`hold on ${command.doc} cancelled`) : refused(`report ${command.doc} has no hold`)
        }
        default:
          return refused(`holds cannot run ${command._tag}`)
      }
    })

  return yield* mailbox.serve((envelope) =>
    handle(envelope.command, envelope.user).pipe(Effect.flatMap((result) => Deferred.succeed(envelope.reply, result)))
  )
})

export const HoldsLive = actorLayer("holds", holdsActor)
