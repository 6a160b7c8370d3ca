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
 * from the document as it is now (kernel/arrival.ts). A pipeline still
 * running for a row that already ended (a kill whose stop was lost) is
 * stopped; an exit whose outcome is already stored (the allocator died
 * before acknowledging it) is acknowledged. Queued and cooling rows need nothing: the
 * workers and the promoter pick them up. Every write waits until SQLite
 * takes it.
 */
import { Duration, Effect, Layer, Option, Schedule } from "effect"
import { isActive, type JobRun } from "../schemas/job.ts"
import { decideReceived } from "../kernel/arrival.ts"
import { AppConfig } from "../kernel/config.ts"
import { runLogFile } from "../kernel/paths.ts"
import { Executor, type LiveRun, type RunStatus } from "../kernel/ports/executor.ts"
import { routeOutcome } from "../kernel/routing.ts"
import { untilStored } from "../kernel/storeRetry.ts"
import { JobStore } from "../kernel/store/jobs.ts"

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

/** Between SIGTERM and SIGKILL for a pipeline whose row already ended (as the kill handler's). */
const TERM_GRACE = Duration.seconds(3)

/**
 * Pipelines the executor still runs whose row already ended: an operator's
 * kill ended the row (rule 9) but its stop never reached the executor (the
 * allocator died in between, or the host was down). Nothing follows such a
 * run (workers follow `running` rows only), so it would run forever: it is
 * stopped now, and its exit acknowledged (it changes no row).
 */
const stopPipelinesOfEndedRows = Effect.gen(function* () {
  const jobs = yield* JobStore
  const executor = yield* Executor
  const live = yield* executor.live.pipe(Effect.retry(ASK_EXECUTOR), Effect.orElseSucceed((): ReadonlyArray<LiveRun> => []))
  for (const run of live) {
    const row = yield* untilStored(`recovery of run ${run.runId}`, jobs.byId(run.runId))
    if (Option.isSome(row) && isActive(row.value.state)) continue
    const state = Option.match(row, { onNone: () => "gone", onSome: (r) => r.state })
    yield* Effect.logWarning(`recovery: run ${run.runId} still runs but its row is ${state}; stopping it`)
    yield* executor.kill(run.runId, TERM_GRACE).pipe(
      Effect.zipRight(executor.awaitExit(run.runId)),
      Effect.zipRight(executor.acknowledge(run.runId)),
      Effect.retry(ASK_EXECUTOR),
      Effect.catchAll((e) => Effect.logError(`recovery: cannot stop run ${run.runId} (${e.message})`)),
      Effect.forkScoped
    )
  }
})

/**
 * Exits the executor still holds for rows that no longer run: the allocator
 * died after storing the outcome and before acknowledging it. The outcome is
 * in SQLite already, so they are only acknowledged (no worker would ever do it).
 */
const forgetStoredExits = Effect.gen(function* () {
  const jobs = yield* JobStore
  const executor = yield* Executor
  if (executor.unacknowledged === undefined) return
  const ended = yield* executor.unacknowledged.pipe(Effect.retry(ASK_EXECUTOR), Effect.orElseSucceed((): ReadonlyArray<number> => []))
  let forgotten = 0
  for (const runId of ended) {
    const row = yield* untilStored(`recovery of run ${runId}`, jobs.byId(runId))
    if (Option.isSome(row) && isActive(row.value.state)) continue
    forgotten++
    yield* executor.acknowledge(runId).pipe(
      Effect.retry(ASK_EXECUTOR),
      Effect.catchAll((e) => Effect.logError(`recovery: cannot acknowledge run ${runId} (${e.message})`))
    )
  }
  if (forgotten > 0) yield* Effect.logInfo(`recovery: ${forgotten} exit(s) whose outcome was already stored acknowledged`)
})

export const recoverAtStart = Effect.gen(function* () {
  const jobs = yield* JobStore
  yield* recoverRunning(yield* untilStored("recovery", jobs.inStates(["running"])))
  for (const run of yield* untilStored("recovery", jobs.inStates(["received"]))) {
    yield* untilStored(`recovery of run ${run.id}`, decideReceived(run))
  }
  yield* stopPipelinesOfEndedRows
  yield* forgetStoredExits
})

export const RecoveryLive = Layer.scopedDiscard(recoverAtStart)
