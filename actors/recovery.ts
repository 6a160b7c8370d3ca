/**
 * Start-up recovery (rule 10 as amended), run before any actor takes new
 * work. Pipelines belong to the executor, so a row still `running` is asked
 * about, not presumed dead:
 *
 *   Running  → re-adopted: stays running; the worker supervisor follows it
 *   Exited   → stays running; the supervisor routes the recorded exit at once
 *   Unknown  → never started (the allocator died between claim and spawn):
 *              back to `queued` at the same attempt, notes = recovered
 *   Lost     → crash victim: failed_retrying + a `recovered` row queued at
 *              attempt + 1, or at MAX_RETRIES Firestore Failed first,
 *              failed_permanent, email
 *
 * A `received` row (the allocator died while deciding it) is decided again
 * from the document as it is now. Queued and cooling rows need nothing: the
 * workers and the promoter pick them up. Every write waits until SQLite
 * takes it.
 */
import { Effect, Layer, Schedule } from "effect"
import { isManagedService, type JobRun } from "../schemas/job.ts"
import { DATA_READY, FAILED, parseReport } from "../schemas/report.ts"
import { AppConfig } from "../kernel/config.ts"
import { PermanentFailure } from "../kernel/failure.ts"
import { NotifierMailbox } from "../kernel/mailboxes.ts"
import { runLogFile } from "../kernel/paths.ts"
import { Executor, type RunStatus } from "../kernel/ports/executor.ts"
import { FirestorePort } from "../kernel/ports/firestore.ts"
import { routeOutcome } from "../kernel/routing.ts"
import { untilStored } from "../kernel/storeRetry.ts"
import { JobStore } from "../kernel/store/jobs.ts"
import { TunableStore } from "../kernel/store/tunables.ts"
import { isoAfter, nowIso } from "../kernel/time.ts"

/** The executor may be starting too: ask for up to ~30 s before leaving the rows to the supervisor. */
const ASK_EXECUTOR = Schedule.exponential("200 millis", 2).pipe(Schedule.union(Schedule.spaced("5 seconds")), Schedule.upTo("30 seconds"))

const recoverRunning = (stranded: ReadonlyArray<JobRun>) =>
  Effect.gen(function* () {
    const jobs = yield* JobStore
    const executor = yield* Executor
    const config = yield* AppConfig
    if (stranded.length === 0) return
    const statuses = yield* executor.status(stranded.map((r) => r.id)).pipe(
      Effect.retry(ASK_EXECUTOR),
      Effect.catchAll((e) =>
        Effect.as(Effect.logError(`recovery: the executor does not answer (${e.message}); the workers will follow the running rows`), undefined)
      )
    )
    if (statuses === undefined) return
    const counts: Record<RunStatus["_tag"], number> = { Running: 0, Exited: 0, Unknown: 0, Lost: 0 }
    for (const run of stranded) {
      const status: RunStatus = statuses.get(run.id) ?? { _tag: "Unknown" }
      counts[status._tag] += 1
      switch (status._tag) {
        case "Running":
        case "Exited":
          break
        case "Unknown":
          yield* untilStored(`recovery of run ${run.id}`, jobs.requeueUnstarted(run.id))
          break
        case "Lost":
          yield* untilStored(
            `recovery of run ${run.id}`,
            routeOutcome(run, { _tag: "Lost", message: status.message }, runLogFile(config.dataDir, run.doc_id, run.id, run.attempt))
          )
          break
      }
    }
    yield* Effect.logInfo(
      `recovery: ${counts.Running} re-adopted, ${counts.Exited} exit(s) recorded while down, ${counts.Unknown} never started, ${counts.Lost} lost`
    )
  })

/** A `received` row: the dispatcher's decision, made again from the document as it stands. */
const redecide = (run: JobRun) =>
  Effect.gen(function* () {
    const jobs = yield* JobStore
    const failure = yield* PermanentFailure
    const notifier = yield* NotifierMailbox
    const t = yield* (yield* TunableStore).get
    const doc = yield* (yield* FirestorePort).getReport(run.doc_id).pipe(
      Effect.catchAll((e) => Effect.as(Effect.logWarning(`recovery: cannot read ${run.doc_id} (${e.message}); left received`), null))
    )
    if (doc === null) return
    const status = doc?.status
    if (doc === undefined || (status !== DATA_READY && status !== FAILED) || !isManagedService(doc.service)) {
      // It left Data Ready (or its service) while the allocator was down: rule 8.
      yield* jobs.withdraw(run.doc_id)
      return
    }
    const parsed = parseReport(run.doc_id, doc)
    if (parsed._tag === "Invalid" || status === FAILED) {
      // Decided once already: it cannot run (or Firestore already says Failed, written before the stop).
      yield* failure.failPermanently({
        run,
        from: ["received"],
        reason: parsed._tag === "Invalid" ? parsed.reason : "report was failed before the allocator stopped",
        exitCode: null,
        email: true,
        onWriteFailure: "sync_retry"
      })
      return
    }
    const released = parsed.fields.manualHoldRelease === true
    const cools = doc.service === "Gen-Decoder" && !released
    yield* jobs.decideReceived(run.id, {
      state: cools ? "waiting_cooldown" : "queued",
      scheduledRunAt: cools ? yield* isoAfter(t.COOLDOWN_SECONDS) : yield* nowIso
    })
    if (cools) {
      yield* notifier.post({
        template: "upload_reminder",
        context: {
          docId: run.doc_id,
          service: doc.service,
          patientId: parsed.fields.patientId,
          ...(parsed.fields.patientName ? { patientName: parsed.fields.patientName } : {}),
          attempt: run.attempt
        }
      })
    }
  })

export const recoverAtStart = Effect.gen(function* () {
  const jobs = yield* JobStore
  yield* recoverRunning(yield* untilStored("recovery", jobs.inStates(["running"])))
  for (const run of yield* untilStored("recovery", jobs.inStates(["received"]))) {
    yield* untilStored(`recovery of run ${run.id}`, redecide(run))
  }
})

export const RecoveryLive = Layer.effectDiscard(recoverAtStart)
