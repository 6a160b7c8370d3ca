/**
 * Outage mode (rule 12): Firestore is unreachable. While down, no pipeline
 * starts; `Failed` writes that could not be made wait here, keyed by run, and
 * are retried in order once the connectivity probe passes again.
 */
import { Effect, Ref, SubscriptionRef } from "effect"
import { EventBus } from "./events.ts"

export class Outage extends Effect.Service<Outage>()("kernel/Outage", {
  effect: Effect.gen(function* () {
    const events = yield* EventBus
    const down = yield* SubscriptionRef.make(false)
    const deferred = yield* Ref.make<ReadonlyMap<number, Effect.Effect<void>>>(new Map())

    const set = (value: boolean) =>
      SubscriptionRef.modify(down, (was) => [was !== value, value]).pipe(
        Effect.tap((changed) =>
          changed
            ? events.publish({ _tag: "outage", down: value }).pipe(
                Effect.zipRight(value ? Effect.logWarning("Firestore unreachable: outage mode") : Effect.logInfo("Firestore reachable again"))
              )
            : Effect.void
        )
      )

    return {
      isDown: SubscriptionRef.get(down),
      changes: down.changes,
      enter: set(true),
      /** Leaves outage mode and hands back the writes that waited for it. */
      leave: Effect.gen(function* () {
        yield* set(false)
        const waiting = yield* Ref.getAndSet(deferred, new Map())
        return [...waiting.entries()].sort(([a], [b]) => a - b).map(([, retry]) => retry)
      }),
      /** Keeps a write to retry when Firestore is back; a second one for the same run replaces the first. */
      defer: (runId: number, retry: Effect.Effect<void>) =>
        Ref.update(deferred, (m) => new Map([...m, [runId, retry]])),
      pendingRuns: Effect.map(Ref.get(deferred), (m) => [...m.keys()])
    }
  })
}) {}
