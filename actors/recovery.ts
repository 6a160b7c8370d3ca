/**
 * Start-up recovery (rule 10), run before any actor takes new work. A row
 * still `running` lost its process in a crash: with attempts left it becomes
 * failed_retrying and a `recovered` row is queued at attempt + 1; otherwise it
 * fails permanently, Firestore first. Queued and cooling rows need nothing:
 * the workers and the promoter pick them up. Stale sandbox scratch goes.
 */
import { Effect, Layer } from "effect"
import { PermanentFailure } from "../kernel/failure.ts"
import { ProcessPort } from "../kernel/ports/process.ts"
import { JobStore } from "../kernel/store/jobs.ts"
import { TunableStore } from "../kernel/store/tunables.ts"
import { nowIso } from "../kernel/time.ts"

export const recoverAfterCrash = Effect.gen(function* () {
  const jobs = yield* JobStore
  const failure = yield* PermanentFailure
  const t = yield* (yield* TunableStore).get
  const stranded = yield* jobs.inStates(["running"])
  for (const run of stranded) {
    const reason = "allocator stopped while the pipeline was running"
    if (run.attempt < t.MAX_RETRIES) {
      yield* jobs.endWithFollowUp(run.id, "running", "failed_retrying", { exitCode: null, errorMessage: reason }, {
        state: "queued",
        attempt: run.attempt + 1,
        scheduledRunAt: yield* nowIso,
        notes: "recovered"
      })
    } else {
      yield* failure.failPermanently({
        run,
        from: ["running"],
        reason: `${reason} (attempt ${run.attempt} of ${t.MAX_RETRIES})`,
        exitCode: null,
        email: true,
        onWriteFailure: "sync_retry"
      })
    }
  }
  const swept = yield* (yield* ProcessPort).sweepStale
  yield* Effect.logInfo(`recovery: ${stranded.length} stranded run(s), ${swept} stale scratch dir(s) removed`)
})

export const RecoveryLive = Layer.effectDiscard(recoverAfterCrash)
