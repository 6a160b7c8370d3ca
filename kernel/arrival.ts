/**
 * Deciding a report (rules 2, 3, 10): what row an arriving document gets.
 *
 * A managed document that cannot run is recorded `received` (so it blocks
 * dedup while it is being failed) and failed through the Firestore-first
 * path; that path always ends the row (`failed_permanent`, or `failed_sync`
 * with a `sync_retry` row), except in an outage, where the write waits in
 * outage mode. Anything else is inserted unless dedup blocks it: Gen-Decoder
 * cools down first (with an upload reminder) unless it was released from a
 * manual hold; everything else is queued.
 *
 * A `received` row that outlived its decision (the allocator was killed
 * between the Firestore write and the SQLite update) is decided again from
 * the document as it is now: `decideReceived`, which start-up recovery calls
 * for every `received` row, and which the dispatcher also applies when an
 * ADDED finds the document's newest row `received` (e.g. the replay of the
 * first subscription after a restart).
 */
import { Effect, Option } from "effect"
import { type ActiveState, isManagedService, type JobRun, type Service } from "../schemas/job.ts"
import { DATA_READY, FAILED, parseReport, type ReportData } from "../schemas/report.ts"
import { EventBus } from "./events.ts"
import { PermanentFailure } from "./failure.ts"
import { NotifierMailbox } from "./mailboxes.ts"
import { Outage } from "./outage.ts"
import { FirestorePort } from "./ports/firestore.ts"
import { JobStore } from "./store/jobs.ts"
import { TunableStore } from "./store/tunables.ts"
import { isoAfter, nowIso } from "./time.ts"

const optionalString = (v: unknown): string | null => (typeof v === "string" ? v : null)

/** Where a runnable report starts (rule 3) and whether the lab gets an upload reminder. */
const firstState = (service: Service, released: boolean) =>
  Effect.gen(function* () {
    const cools = service === "Gen-Decoder" && !released
    const t = yield* (yield* TunableStore).get
    const state: Extract<ActiveState, "waiting_cooldown" | "queued"> = cools ? "waiting_cooldown" : "queued"
    return { cools, state, scheduledRunAt: cools ? yield* isoAfter(t.COOLDOWN_SECONDS) : yield* nowIso }
  })

const remind = (docId: string, service: Service, patientId: string, patientName: string | undefined) =>
  Effect.flatMap(NotifierMailbox, (notifier) =>
    notifier.post({
      template: "upload_reminder",
      context: { docId, service, patientId, ...(patientName ? { patientName } : {}), attempt: 1 }
    })
  )

const failReceived = (run: JobRun, reason: string) =>
  Effect.gen(function* () {
    yield* Effect.logWarning(`report ${run.doc_id} cannot run: ${reason}`)
    yield* (yield* PermanentFailure).failPermanently({
      run,
      from: ["received"],
      reason,
      exitCode: null,
      email: true,
      onWriteFailure: "sync_retry"
    })
  })

/** Rule 3 for a `received` row and the document it came from. */
const decideFrom = (run: JobRun, data: ReportData) =>
  Effect.gen(function* () {
    const jobs = yield* JobStore
    const parsed = parseReport(run.doc_id, data)
    if (parsed._tag === "Invalid") return yield* failReceived(run, parsed.reason)
    for (const warning of parsed.warnings) yield* Effect.logWarning(`report ${run.doc_id}: ${warning}`)
    if (!isManagedService(parsed.fields.service)) {
      // The service changed while the row was undecided: no longer ours, so the row ends as a withdrawal would.
      yield* jobs.withdraw(run.doc_id)
      return
    }
    const start = yield* firstState(parsed.fields.service, parsed.fields.manualHoldRelease === true)
    const admitted = yield* jobs.admitReceived(run.id, {
      state: start.state,
      scheduledRunAt: start.scheduledRunAt,
      patientId: parsed.fields.patientId
    })
    if (Option.isSome(admitted) && start.cools) {
      yield* remind(run.doc_id, parsed.fields.service, parsed.fields.patientId, parsed.fields.patientName)
    }
  })

/**
 * Rule 10 for a `received` row: decide it again from the document as it is
 * now. Firestore `Failed` means the allocator's own write landed before it
 * died: the failure is completed (the write is repeated, harmlessly, to get
 * the proof rule 6 asks for). A document that is gone or no longer
 * `Data Ready` is a withdrawal (rule 8). A `Data Ready` one is decided as a
 * new arrival would be, on the row that already exists. When Firestore
 * cannot be read the row is left for the listener's ADDED (see the header).
 */
export const decideReceived = (run: JobRun) =>
  Effect.gen(function* () {
    if (run.state !== "received") return
    const outage = yield* Outage
    if ((yield* outage.pendingRuns).includes(run.id)) return
    const read = yield* Effect.either((yield* FirestorePort).getReport(run.doc_id))
    if (read._tag === "Left") {
      yield* Effect.logWarning(`received run ${run.id} left for later: ${read.left.message}`)
      return
    }
    const data = read.right
    if (data === undefined || (data.status !== DATA_READY && data.status !== FAILED)) {
      yield* (yield* JobStore).withdraw(run.doc_id)
      return
    }
    if (data.status === FAILED) {
      const parsed = parseReport(run.doc_id, data)
      const reason = parsed._tag === "Invalid" ? parsed.reason : "allocator stopped while failing this report"
      return yield* failReceived(run, reason)
    }
    return yield* decideFrom(run, data)
  }).pipe(Effect.annotateLogs("doc", run.doc_id))

/**
 * A newest `failed_permanent` row lets an ADDED through (rule 2: the manual
 * retry). But an ADDED can be older than that failure: a kernel's first
 * snapshot saw the document Data Ready, then a re-adopted pipeline failed
 * for good and the kernel wrote `Failed` before the snapshot's arrival was
 * decided. So the document is read once more, and only a document still
 * Data Ready is a retry. A read that fails trusts the ADDED (a stale one is
 * then withdrawn by the removal that follows it; a real retry is not lost).
 */
const isStaleRetry = (id: string) =>
  Effect.flatMap(FirestorePort, (port) => port.getReport(id)).pipe(
    Effect.map((now) => now === undefined || now.status !== DATA_READY),
    Effect.orElseSucceed(() => false)
  )

/** Rules 2 and 3 for an ADDED document. */
export const arrive = (id: string, data: ReportData) =>
  Effect.gen(function* () {
    const jobs = yield* JobStore
    const events = yield* EventBus
    if (!isManagedService(data.service)) {
      yield* Effect.logInfo(`ignoring ${id}: service ${JSON.stringify(data.service).slice(0, 80)} is not managed here`)
      return
    }
    const service = data.service
    const newest = yield* jobs.newestForDoc(id)
    if (Option.isSome(newest) && newest.value.state === "received") {
      const outage = yield* Outage
      if ((yield* outage.pendingRuns).includes(newest.value.id)) return yield* events.publish({ _tag: "dedup", doc: id })
      return yield* decideFrom(newest.value, data)
    }
    if (Option.isSome(newest) && newest.value.state === "failed_permanent" && (yield* isStaleRetry(id))) {
      yield* Effect.logInfo(`ignoring ${id}: it was Data Ready when the listener saw it, not any more (it failed since)`)
      return yield* events.publish({ _tag: "dedup", doc: id })
    }
    const parsed = parseReport(id, data)
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
        scheduledRunAt: yield* nowIso,
        notes: null
      }, newest)
      if (recorded._tag === "Blocked") return yield* events.publish({ _tag: "dedup", doc: id })
      return yield* failReceived(recorded.run, parsed.reason)
    }

    for (const warning of parsed.warnings) yield* Effect.logWarning(`report ${id}: ${warning}`)
    const released = parsed.fields.manualHoldRelease === true
    const start = yield* firstState(service, released)
    const inserted = yield* jobs.insertArrival({
      ...display,
      patientId: parsed.fields.patientId,
      state: start.state,
      scheduledRunAt: start.scheduledRunAt,
      notes: released && Option.isNone(newest) ? "manual_release" : null
    }, newest)
    if (inserted._tag === "Blocked") return yield* events.publish({ _tag: "dedup", doc: id })
    if (start.cools) yield* remind(id, service, parsed.fields.patientId, parsed.fields.patientName)
  })
