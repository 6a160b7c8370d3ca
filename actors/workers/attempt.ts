/**
 * One attempt, from the claimed row to the acknowledged exit (rules 5, 9, 10):
 *
 *   claimed ──start──▶ started ──awaitExit──▶ exited ──store (until SQLite takes it)──▶ stored ──acknowledge──▶ done
 *
 * The pipeline belongs to the executor, not to this fiber. Interrupting the
 * fiber (shutdown, an allocator restart) only stops following: the row stays
 * `running` and start-up recovery re-adopts it or routes its recorded exit.
 * The exit is acknowledged only once its outcome is in SQLite, so an exit the
 * allocator could not store is reported again after a restart. A kill ends
 * the row first (rule 9); the killed run's exit then finds the row no longer
 * `running` and changes nothing.
 */
import { Duration, Effect, Either, Option, Schedule } from "effect"
import { join } from "node:path"
import type { JobRun } from "../../schemas/job.ts"
import { isSafeSegment } from "../../schemas/report.ts"
import { AppConfig } from "../../kernel/config.ts"
import { EventBus } from "../../kernel/events.ts"
import { PermanentFailure } from "../../kernel/failure.ts"
import { runLogFile } from "../../kernel/paths.ts"
import { Executor, ExecutorUnavailable, type RunStatus } from "../../kernel/ports/executor.ts"
import { type Outcome, outcomeOfExit, routeOutcome } from "../../kernel/routing.ts"
import { untilStored } from "../../kernel/storeRetry.ts"
import { JobStore } from "../../kernel/store/jobs.ts"
import { RunFiles } from "../../kernel/runFiles.ts"
import { OcrCache } from "../../kernel/store/ocrCache.ts"

/** Why a row may not run at all: the dispatcher's check, repeated for a sync-retry row. */
const unrunnable = (run: JobRun): string | undefined => {
  if (!isSafeSegment(run.doc_id)) return `report id ${JSON.stringify(run.doc_id)} is not a safe path segment`
  if (run.patient_id === null || run.patient_id === "") return "report has no patientId"
  if (!isSafeSegment(run.patient_id)) return `patientId ${JSON.stringify(run.patient_id)} is not a safe path segment`
  return undefined
}

export const ocrOutputFile = (userDataDir: string, patientId: string) =>
  join(userDataDir, patientId, "Omni-Health", "ocr.json")

/** The executor may be down for a while (host restarting): keep asking, 200 ms doubling to at most 10 s apart. */
const WHILE_UNAVAILABLE = Schedule.exponential("200 millis", 2).pipe(Schedule.union(Schedule.spaced("10 seconds")))

const untilReachable = <A, E, R>(what: string, call: Effect.Effect<A, E | ExecutorUnavailable, R>): Effect.Effect<A, Exclude<E, ExecutorUnavailable>, R> =>
  call.pipe(
    Effect.tapError((e) =>
      e instanceof ExecutorUnavailable ? Effect.logWarning(`${what}: executor unavailable (${e.message}); retrying`) : Effect.void
    ),
    Effect.retry({ schedule: WHILE_UNAVAILABLE, while: (e) => e instanceof ExecutorUnavailable }),
    Effect.catchIf(
      (e): e is ExecutorUnavailable => e instanceof ExecutorUnavailable,
      (e) => Effect.dieMessage(`unreachable: the retry schedule never ends (${e.message})`)
    )
  ) as Effect.Effect<A, Exclude<E, ExecutorUnavailable>, R>

/** A row still `running` after routing waits for a deferred Firestore write (rule 12): 1 s doubling to 1 min. */
const WHILE_DEFERRED = Schedule.exponential("1 second", 2).pipe(Schedule.union(Schedule.spaced("1 minute")))

type Ended = Extract<RunStatus, { _tag: "Exited" | "Lost" }>

/**
 * Routes an ended run unless its row already ended (a kill; routing's
 * updates are guarded on `running`); the outcome is stored before this
 * returns.
 */
const store = (run: JobRun, ended: Ended) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const jobs = yield* JobStore
    const ocr = yield* OcrCache
    const outcome: Outcome = ended._tag === "Lost" ? { _tag: "Lost", message: ended.message } : outcomeOfExit(ended.exit)
    // The claimed row's fields that routing reads (id, document, patient, service, attempt) never change while it runs.
    const logFile = runLogFile(config.dataDir, run.doc_id, run.id, run.attempt)
    const route = yield* untilStored(`outcome of run ${run.id}`, routeOutcome(run, outcome, logFile))
    if (route === "succeeded" && run.service === "Omni-Health" && run.patient_id !== null) {
      const patientOcr = ocrOutputFile(config.paths.userDataDir, run.patient_id)
      const files = yield* RunFiles
      if (yield* files.exists(patientOcr)) yield* untilStored(`OCR output of run ${run.id}`, ocr.put(run.doc_id, run.id, patientOcr))
    }
    // Every other route ends the row in the statement that stored it.
    if (route !== "exhausted") return
    // A Failed write deferred by an outage keeps the row running: the exit stays unacknowledged until it lands.
    yield* untilStored(`run ${run.id}`, Effect.map(jobs.byId(run.id), (r) => Option.isSome(r) && r.value.state === "running")).pipe(
      Effect.repeat({ schedule: WHILE_DEFERRED, while: (stillRunning) => stillRunning })
    )
  })

/**
 * Follows a started run until its outcome is stored: waits for the exit,
 * then stores it. Used for runs this worker started and for runs re-adopted
 * at start-up. The exit is acknowledged separately (`acknowledgeRun`), once
 * this has returned: a run holds its worker slot until its exit is stored,
 * not for the round trip that tells the executor to forget it.
 */
export const followRun = (run: JobRun) =>
  Effect.gen(function* () {
    const executor = yield* Executor
    const events = yield* EventBus
    const ended = yield* untilReachable(`run ${run.id}`, executor.awaitExit(run.id))
    if (ended._tag === "Exited") yield* events.publish({ _tag: "exit", run: run.id, code: ended.exit.code })
    else yield* Effect.logWarning(`run ${run.id} lost: ${ended.message}`)
    yield* store(run, ended)
  }).pipe(Effect.annotateLogs({ run: run.id, doc: run.doc_id }))

/** Tells the executor it may forget a run whose outcome is stored; an exit not acknowledged is reported again. */
export const acknowledgeRun = (run: JobRun) =>
  Effect.flatMap(Executor, (executor) =>
    untilReachable(`acknowledging run ${run.id}`, executor.acknowledge(run.id)).pipe(
      Effect.timeout(Duration.minutes(5)),
      Effect.catchAll(() => Effect.logWarning(`run ${run.id}: exit stored but not acknowledged; the executor will report it again`))
    )
  ).pipe(Effect.annotateLogs({ run: run.id, doc: run.doc_id }))

/**
 * A freshly claimed row: start its pipeline, then follow it until its
 * outcome is stored. Answers whether a pipeline ran, i.e. whether there is
 * an exit to acknowledge.
 */
export const runAttempt = (run: JobRun) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const executor = yield* Executor
    const events = yield* EventBus
    const jobs = yield* JobStore
    const ocr = yield* OcrCache

    const problem = unrunnable(run)
    if (problem !== undefined || run.patient_id === null) {
      const failure = yield* PermanentFailure
      yield* untilStored(
        `run ${run.id}`,
        failure.failPermanently({
          run,
          from: ["running"],
          reason: problem ?? "report has no patientId",
          exitCode: null,
          email: true,
          onWriteFailure: "sync_retry"
        })
      )
      return false
    }
    const service = run.service as keyof typeof config.services
    const logFile = runLogFile(config.dataDir, run.doc_id, run.id, run.attempt)
    const cached = run.notes === "ocr_rerun" ? yield* ocr.get(run.doc_id) : undefined
    const env: Record<string, string> = {
      ...config.services[service].env,
      LOMI_RUN_ID: String(run.id),
      LOMI_ATTEMPT: String(run.attempt),
      ...(cached !== undefined && cached._tag === "Some" ? { LOMI_OCR_FILE: cached.value.ocr_path } : {})
    }
    const endedBefore = yield* jobs.endedWhileRunning
    // Nothing was started while the executor is unreachable, so asking again is safe; the row stays running meanwhile.
    const started = yield* Effect.either(
      untilReachable(
        `starting run ${run.id}`,
        executor.start({
          runId: run.id,
          docId: run.doc_id,
          patientId: run.patient_id,
          service: run.service,
          attempt: run.attempt,
          script: config.services[service].script,
          env,
          logFile
        })
      )
    )
    if (Either.isLeft(started)) {
      yield* Effect.logWarning(`run ${run.id} could not start: ${started.left.message}`)
      yield* untilStored(`run ${run.id}`, routeOutcome(run, { _tag: "CouldNotRun", message: started.left.message }, logFile))
      return false
    }
    yield* events.publish({ _tag: "spawn", run: run.id, doc: run.doc_id })
    // A kill that ended the row while the start was on its way found nothing to stop: stop it now.
    // Only a row ended from `running` by someone else since the start was sent can be such a row.
    if ((yield* jobs.endedWhileRunning) !== endedBefore) {
      const now = yield* untilStored(`run ${run.id}`, jobs.byId(run.id))
      if (Option.isNone(now) || now.value.state !== "running") {
        yield* untilReachable(`killing run ${run.id}`, executor.kill(run.id, Duration.seconds(3)))
      }
    }
    yield* followRun(run)
    return true
  }).pipe(Effect.annotateLogs({ run: run.id, doc: run.doc_id }))
