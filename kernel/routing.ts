/**
 * Outcome routing (rules 5–7): what a finished attempt's exit code means.
 *
 *   0                     → succeeded; Firestore untouched
 *   TEMP_FAIL_EXIT_CODE   → temp_failed + a cooling row at the same attempt
 *   other, retries left   → failed_retrying + a cooling row at attempt + 1
 *   other, none left      → Firestore Failed, then failed_permanent (or failed_sync / outage)
 *
 * Every update is guarded on `running`: a row the kill handler already ended
 * stays as it is.
 */
import { Effect, Option } from "effect"
import type { JobRun } from "../../schemas/job.ts"
import type { Tunables } from "../../schemas/tunables.ts"
import { PermanentFailure } from "../../kernel/failure.ts"
import { JobStore } from "../../kernel/store/jobs.ts"
import { TunableStore } from "../../kernel/store/tunables.ts"
import { isoAfter } from "../../kernel/time.ts"

export type Outcome =
  | { readonly _tag: "Exited"; readonly code: number }
  | { readonly _tag: "CouldNotRun"; readonly message: string }

export type Route = "succeeded" | "temp_failed" | "failed_retrying" | "exhausted"

export const routeFor = (outcome: Outcome, attempt: number, t: Tunables): Route => {
  if (outcome._tag === "Exited" && outcome.code === 0) return "succeeded"
  if (outcome._tag === "Exited" && outcome.code === t.TEMP_FAIL_EXIT_CODE) return "temp_failed"
  return attempt < t.MAX_RETRIES ? "failed_retrying" : "exhausted"
}

const describe = (outcome: Outcome) =>
  outcome._tag === "Exited" ? `pipeline exited with code ${outcome.code}` : outcome.message

export const routeOutcome = (run: JobRun, outcome: Outcome, logFile: string) =>
  Effect.gen(function* () {
    const jobs = yield* JobStore
    const t = yield* (yield* TunableStore).get
    const failure = yield* PermanentFailure
    const exitCode = outcome._tag === "Exited" ? outcome.code : null
    const route = routeFor(outcome, run.attempt, t)
    const lost = (applied: Option.Option<unknown>) =>
      Option.isNone(applied) ? Effect.logWarning(`run ${run.id}: no longer running; outcome ${route} not recorded`) : Effect.void

    switch (route) {
      case "succeeded":
        return yield* jobs.succeed(run.id, 0).pipe(Effect.flatMap(lost))
      case "temp_failed":
        return yield* jobs
          .endWithFollowUp(run.id, "running", "temp_failed", { exitCode, errorMessage: "inputs not there yet" }, {
            state: "waiting_cooldown",
            attempt: run.attempt,
            scheduledRunAt: yield* isoAfter(t.TEMP_FAIL_RETRY_DELAY_SECONDS),
            notes: null
          })
          .pipe(Effect.flatMap(lost))
      case "failed_retrying":
        return yield* jobs
          .endWithFollowUp(run.id, "running", "failed_retrying", { exitCode, errorMessage: describe(outcome) }, {
            state: "waiting_cooldown",
            attempt: run.attempt + 1,
            scheduledRunAt: yield* isoAfter(t.RETRY_DELAY_SECONDS),
            notes: null
          })
          .pipe(Effect.flatMap(lost))
      case "exhausted":
        yield* failure.failPermanently({
          run,
          from: ["running"],
          reason: `${describe(outcome)} (attempt ${run.attempt} of ${t.MAX_RETRIES})`,
          exitCode,
          email: true,
          onWriteFailure: "sync_retry",
          logFile
        })
        return
    }
  })
