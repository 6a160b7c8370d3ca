/**
 * Supervision: each actor is a fiber forked into the runtime's scope. A
 * failure or defect is logged at the top of the loop and the loop restarts
 * after a pause; shutdown is interruption, which is never retried.
 */
import { Cause, Effect, Layer, Schedule } from "effect"

export const RESTART_POLICY = Schedule.exponential("200 millis", 2).pipe(Schedule.union(Schedule.spaced("30 seconds")))

export const actorLayer = <E, R>(name: string, loop: Effect.Effect<never, E, R>) =>
  Layer.scopedDiscard(
    loop.pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.logError(`actor stopped; restarting`, cause)
      ),
      Effect.repeat(RESTART_POLICY),
      Effect.annotateLogs("actor", name),
      Effect.forkScoped
    )
  )
