/**
 * Single flight: callers asking for the same key while a computation for it
 * is running share that computation; once it ends, the key is forgotten, so
 * nothing is kept after the answer is given and the next caller starts
 * afresh.
 *
 * It replaced an Effect Cache with time to live zero in the jobs list:
 * expired entries stay in a Cache until capacity evicts them, so after a
 * load with random cursors it held 256 answered pages (~5 MiB of decoded
 * rows) for good, in a process meant to rest under 80 MiB (issue 12).
 *
 * The computation runs on a fiber of its own: a caller that goes away (its
 * request closed) does not interrupt the others' answer. A failure or defect
 * reaches every caller that joined.
 */
import { Deferred, Effect, FiberId } from "effect"

export interface SingleFlight<K, A, E> {
  readonly run: (key: K) => Effect.Effect<A, E>
  /** Keys with a computation running now (for tests and gauges). */
  readonly inFlight: () => number
}

export const singleFlight = <K, A, E>(keyOf: (key: K) => string, compute: (key: K) => Effect.Effect<A, E>): SingleFlight<K, A, E> => {
  const running = new Map<string, Deferred.Deferred<A, E>>()
  const run = (key: K) =>
    Effect.suspend(() => {
      const id = keyOf(key)
      const joined = running.get(id)
      if (joined !== undefined) return Deferred.await(joined)
      // Made and registered in this one synchronous step: no caller can slip in between.
      const deferred = Deferred.unsafeMake<A, E>(FiberId.none)
      running.set(id, deferred)
      const work = compute(key).pipe(
        Effect.exit,
        Effect.flatMap((exit) =>
          Effect.zipRight(
            Effect.sync(() => running.delete(id)),
            Deferred.done(deferred, exit)
          )
        )
      )
      return Effect.zipRight(Effect.forkDaemon(work), Deferred.await(deferred))
    })
  return { run, inFlight: () => running.size }
}
