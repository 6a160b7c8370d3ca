/**
 * Storing an outcome until it is stored (issue 11). When SQLite refuses a
 * write (disk full, database locked, read-only file) the store dies with its
 * SqlError; here that refusal becomes a retry with a backoff, and the caller
 * keeps the executor's exit unacknowledged meanwhile, so nothing is lost if
 * the allocator stops before SQLite works again. Only SQLite's refusals are
 * retried: any other defect is a bug and stays one.
 *
 * A retried write is safe because every store change is one transaction,
 * guarded on the row's state: a write that did commit finds the row moved on
 * and changes nothing the second time.
 */
import { SqlError } from "@effect/sql/SqlError"
import { Data, Effect, Option, Schedule } from "effect"

export class StoreRefused extends Data.TaggedError("StoreRefused")<{ readonly message: string }> {}

/** 200 ms, doubling, at most 30 s apart; forever. */
export const STORE_RETRY = Schedule.exponential("200 millis", 2).pipe(Schedule.union(Schedule.spaced("30 seconds")))

const describe = (error: SqlError) => {
  const cause: unknown = error.cause
  if (cause instanceof Error) return `${"code" in cause ? `${String(cause.code)}: ` : ""}${cause.message}`
  return error.message
}

/** Turns a store refusal (a SqlError defect) into a typed failure. */
export const refusalAsFailure = <A, E, R>(write: Effect.Effect<A, E, R>): Effect.Effect<A, E | StoreRefused, R> =>
  Effect.catchSomeDefect(write, (defect) =>
    defect instanceof SqlError ? Option.some(Effect.fail(new StoreRefused({ message: describe(defect) }))) : Option.none()
  )

/** Runs `write` (each try uninterruptible) until SQLite takes it. */
export const untilStored = <A, E, R>(what: string, write: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  refusalAsFailure(Effect.uninterruptible(write)).pipe(
    Effect.tapError((e) =>
      e instanceof StoreRefused ? Effect.logWarning(`${what}: SQLite refused the write (${e.message}); retrying`) : Effect.void
    ),
    Effect.retry({ schedule: STORE_RETRY, while: (e) => e instanceof StoreRefused }),
    Effect.catchIf(
      (e): e is StoreRefused => e instanceof StoreRefused,
      (e) => Effect.dieMessage(`unreachable: the retry schedule never ends (${e.message})`)
    )
  )
