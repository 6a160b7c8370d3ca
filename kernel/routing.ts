/**
 * Outcome routing (rules 5–7): what a finished attempt's exit code means.
 *
 *   0                     → succeeded; Firestore untouched
 *   TEMP_FAIL_EXIT_CODE   → temp_failed + a cooling row at the same attempt
 *   other, retries left   → failed_retrying + a cooling row at attempt + 1
 *   other, none left      → Firestore Failed, then failed_permanent (or failed_sync / outage)
 *
 * An exit that carries the executor's own error message (a refused sandbox
 * commit, a time limit) is a failure whatever its code. A pipeline lost with
 * no recorded exit is a crash victim (rule 10): with retries left the next
 * attempt is queued at once (`recovered`), otherwise it fails permanently.
 *
 * Every update is guarded on `running`: a row the kill handler already ended
 * stays as it is. Only the exhausted route reads the row first, since its
 * Firestore write comes before the guarded update.
 */
import { Effect, Option } from "effect"
import type { JobRun } from "../schemas/job.ts"
import type { PipelineExit } from "./ports/executor.ts"
import type { Tunables } from "../schemas/tunables.ts"
import { PermanentFailure } from "./failure.ts"
import { JobStore } from "./store/jobs.ts"
import { TunableStore } from "./store/tunables.ts"
import { isoAfter, nowIso } from "./time.ts"

export type Outcome =
  | { readonly _tag: "Exited"; readonly code: number }
  | { readonly _tag: "CouldNotRun"; readonly message: string }
  /** The executor failed the attempt (PipelineExit.errorMessage); `code` is whatever the process said. */
  | { readonly _tag: "ExecutorFailed"; readonly code: number | null; readonly message: string }
  /** Gone with no recorded exit (rule 10's crash victim). */
  | { readonly _tag: "Lost"; readonly message: string }

/** What the executor reported, as routing sees it. */
export const outcomeOfExit = (exit: PipelineExit): Outcome => {
  if (exit.errorMessage !== undefined) return { _tag: "ExecutorFailed", code: exit.code, message: exit.errorMessage }
  if (exit.code === null) return { _tag: "CouldNotRun", message: `pipeline ended by signal ${exit.signal ?? "unknown"}` }
  return { _tag: "Exited", code: exit.code }
}

export type Route = "succeeded" | "temp_failed" | "failed_retrying" | "lost_retrying" | "exhausted"

export const routeFor = (outcome: Outcome, attempt: number, t: Tunables): Route => {
  if (outcome._tag === "Exited" && outcome.code === 0) return "succeeded"
  if (outcome._tag === "Exited" && outcome.code === t.TEMP_FAIL_EXIT_CODE) return "temp_failed"
  if (attempt >= t.MAX_RETRIES) return "exhausted"
  return outcome._tag === "Lost" ? "lost_retrying" : "failed_retrying"
}

const describe = (outcome: Outcome) =>
  outcome._tag === "Exited" ? `pipeline exited with code ${outcome.code}` : outcome.message

const exitCodeOf = (outcome: Outcome): number | null =>
  outcome._tag === "Exited" || outcome._tag === "ExecutorFailed" ? outcome.code : null

/** What storing an outcome did: the route it took, or nothing because the row had already ended (a kill won the race). */
export type Stored = Route | "row_ended"

/** Stores an attempt's outcome; answers the route it took. */
export const routeOutcome = (run: JobRun, outcome: Outcome, logFile: string): Effect.Effect<Stored, never, JobStore | TunableStore | PermanentFailure> =>
  Effect.gen(function* () {
    const jobs = yield* JobStore
    const t = yield* (yield* TunableStore).get
    const failure = yield* PermanentFailure
    const exitCode = exitCodeOf(outcome)
    const route = routeFor(outcome, run.attempt, t)
    const lost = (applied: Option.Option<unknown>): Effect.Effect<Stored> =>
      Option.isNone(applied)
        ? Effect.as(Effect.logInfo(`run ${run.id}: no longer running; outcome ${route} not recorded`), "row_ended")
        : Effect.succeed(route)

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
      case "lost_retrying":
        return yield* jobs
          .endWithFollowUp(run.id, "running", "failed_retrying", { exitCode, errorMessage: describe(outcome) }, {
            state: "queued",
            attempt: run.attempt + 1,
            scheduledRunAt: yield* nowIso,
            notes: "recovered"
          })
          .pipe(Effect.flatMap(lost))
      case "exhausted": {
        // Firestore is written before SQLite here, so a row a kill already ended is checked first: it gets no Failed write.
        const current = yield* jobs.byId(run.id)
        if (Option.isNone(current) || current.value.state !== "running") {
          const state = Option.match(current, { onNone: () => "gone", onSome: (r) => r.state })
          yield* Effect.logInfo(`run ${run.id}: its row is already ${state}; outcome ${route} not recorded`)
          return "row_ended"
        }
        const failed = yield* failure.failPermanently({
          run,
          from: ["running"],
          reason: `${describe(outcome)} (attempt ${run.attempt} of ${t.MAX_RETRIES})`,
          exitCode,
          email: true,
          onWriteFailure: "sync_retry",
          logFile
        })
        return failed._tag === "LostRace" ? "row_ended" : route
      }
    }
  })
