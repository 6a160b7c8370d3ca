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
 * from the document as it is now (kernel/arrival.ts). Queued and cooling rows need nothing: the
 * workers and the promoter pick them up. Every write waits until SQLite
 * takes it.
 */
import { Effect, Layer, Schedule } from "effect"
import type { JobRun } from "../schemas/job.ts"
import { decideReceived } from "../kernel/arrival.ts"
import { AppConfig } from "../kernel/config.ts"
import { runLogFile } from "../kernel/paths.ts"
import { Executor, type RunStatus } from "../kernel/ports/executor.ts"
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

export const recoverAtStart = Effect.gen(function* () {
  const jobs = yield* JobStore
  yield* recoverRunning(yield* untilStored("recovery", jobs.inStates(["running"])))
  for (const run of yield* untilStored("recovery", jobs.inStates(["received"]))) {
    yield* untilStored(`recovery of run ${run.id}`, decideReceived(run))
  }
})

export const RecoveryLive = Layer.effectDiscard(recoverAtStart)
