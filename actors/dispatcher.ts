/**
 * Dispatcher (rules 2, 3, 8, 11): turns listener changes into job rows.
 *
 * ADDED: unmanaged services are ignored; a managed document that cannot run
 * is recorded (`received`, so it blocks dedup) and failed through the
 * Firestore-first path; otherwise a row is inserted unless dedup blocks it:
 * Gen-Decoder cools down first (and the lab gets an upload reminder) unless
 * an operator released it from a manual hold; everything else is queued.
 * REMOVED withdraws rows that have not started. MODIFIED changes no state;
 * it only refreshes the display fields of the document's active rows.
 */
import { Effect, Option } from "effect"
import { isManagedService } from "../schemas/job.ts"
import { parseReport, type ReportChange, type ReportData } from "../schemas/report.ts"
import { EventBus } from "../kernel/events.ts"
import { PermanentFailure } from "../kernel/failure.ts"
import { DispatcherMailbox, NotifierMailbox } from "../kernel/mailboxes.ts"
import { JobStore } from "../kernel/store/jobs.ts"
import { TunableStore } from "../kernel/store/tunables.ts"
import { actorLayer } from "../kernel/supervise.ts"
import { isoAfter, nowIso } from "../kernel/time.ts"

const optionalString = (v: unknown): string | null => (typeof v === "string" ? v : null)

const dispatch = Effect.gen(function* () {
  const mailbox = yield* DispatcherMailbox
  const jobs = yield* JobStore
  const tunables = yield* TunableStore
  const failure = yield* PermanentFailure
  const notifier = yield* NotifierMailbox
  const events = yield* EventBus

  const arrive = (id: string, data: ReportData) =>
    Effect.gen(function* () {
      if (!isManagedService(data.service)) {
        yield* Effect.logInfo(`ignoring ${id}: service ${JSON.stringify(data.service)} is not managed here`)
        return
      }
      const service = data.service
      const parsed = parseReport(id, data)
      const now = yield* nowIso
      const display = {
        docId: id,
        service,
        patientName: optionalString(data.patientName),
        collectionDate: optionalString(data.collectionDate),
        attempt: 1
      }

      if (parsed._tag === "Invalid") {
        const recorded = yield* jobs.insertArrival({
          ...display,
          patientId: parsed.patientId ?? null,
          state: "received",
          scheduledRunAt: now,
          notes: null
        })
        if (recorded._tag === "Blocked") return yield* events.publish({ _tag: "dedup", doc: id })
        yield* Effect.logWarning(`report ${id} cannot run: ${parsed.reason}`)
        yield* failure.failPermanently({
          run: recorded.run,
          from: ["received"],
          reason: parsed.reason,
          exitCode: null,
          email: true,
          onWriteFailure: "sync_retry"
        })
        return
      }

      const released = parsed.fields.manualHoldRelease === true
      const cools = service === "Gen-Decoder" && !released
      const firstEver = Option.isNone(yield* jobs.newestForDoc(id))
      const t = yield* tunables.get
      const inserted = yield* jobs.insertArrival({
        ...display,
        patientId: parsed.fields.patientId,
        state: cools ? "waiting_cooldown" : "queued",
        scheduledRunAt: cools ? yield* isoAfter(t.COOLDOWN_SECONDS) : now,
        notes: released && firstEver ? "manual_release" : null
      })
      if (inserted._tag === "Blocked") return yield* events.publish({ _tag: "dedup", doc: id })
      if (cools) {
        yield* notifier.post({
          template: "upload_reminder",
          context: {
            docId: id,
            service,
            patientId: parsed.fields.patientId,
            ...(parsed.fields.patientName ? { patientName: parsed.fields.patientName } : {}),
            attempt: 1
          }
        })
      }
    })

  const handle = (change: ReportChange) => {
    switch (change._tag) {
      case "Added":
        return arrive(change.id, change.data)
      case "Modified":
        return jobs.refreshDisplay(change.id, {
          patientName: optionalString(change.data.patientName),
          collectionDate: optionalString(change.data.collectionDate)
        })
      case "Removed":
        return jobs.withdraw(change.id).pipe(
          Effect.tap((rows) =>
            rows.length > 0 ? Effect.logInfo(`report ${change.id} left Data Ready: withdrew ${rows.length} row(s)`) : Effect.void
          )
        )
    }
  }

  return yield* mailbox.serve((change) => handle(change).pipe(Effect.annotateLogs("doc", change.id)))
})

export const DispatcherLive = actorLayer("dispatcher", dispatch)
