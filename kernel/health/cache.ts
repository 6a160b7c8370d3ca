/**
 * A value computed on demand and kept for a TTL, on Effect's Clock (so
 * `TestClock` drives it). Callers that arrive while a computation runs wait
 * for it instead of starting their own: a dashboard full of refreshing tabs
 * probes each target once. Failures are not cached.
 */
import { Clock, Duration, Effect, Option, SynchronizedRef } from "effect"

export interface TtlCache<A, E> {
  /** The cached value while it is younger than the TTL; otherwise computes, stores and returns a fresh one. */
  readonly get: Effect.Effect<A, E>
  /** Computes, stores and returns a fresh value whatever the cache holds. */
  readonly refresh: Effect.Effect<A, E>
  /** The last stored value, fresh or not, without computing anything. */
  readonly peek: Effect.Effect<Option.Option<A>>
}

interface Entry<A> {
  readonly value: A
  readonly storedAt: number
}

export const makeTtlCache = <A, E, R>(
  compute: Effect.Effect<A, E, R>,
  ttl: Duration.DurationInput
): Effect.Effect<TtlCache<A, E>, never, R> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<R>()
    const run = Effect.provide(compute, context)
    const ttlMillis = Duration.toMillis(ttl)
    const ref = yield* SynchronizedRef.make<Option.Option<Entry<A>>>(Option.none())

    const store = Effect.flatMap(run, (value) =>
      Effect.map(Clock.currentTimeMillis, (now): readonly [A, Option.Option<Entry<A>>] => [
        value,
        Option.some({ value, storedAt: now })
      ])
    )

    const get = SynchronizedRef.modifyEffect(ref, (current) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Option.isSome(current) && now - current.value.storedAt < ttlMillis
          ? Effect.succeed([current.value.value, current] as const)
          : store
      )
    )

    return {
      get,
      refresh: SynchronizedRef.modifyEffect(ref, () => store),
      peek: Effect.map(SynchronizedRef.get(ref), Option.map((entry) => entry.value))
    }
  })
