/**
 * Listener (rule 1): forwards every change of the Data Ready query to the
 * dispatcher. When the subscription breaks it asks whether Firestore is
 * reachable: if not, it enters outage mode and waits for the outage actor to
 * see Firestore again; either way it subscribes anew, and the ADDED replay
 * that comes with a new subscription is absorbed by dedup.
 *
 * Rule 12 wants an outage noticed within 15 s even when nothing is written.
 * The port's stream fails when the SDK gives up, and also when the port's
 * own connectivity probe fails while the listener is silent (live port:
 * a probe every few seconds without a snapshot); such a failure already is a
 * failed connectivity check, so it enters outage mode without a second one.
 */
import { Effect, Either, Schedule, Stream } from "effect"
import { DispatcherMailbox } from "../kernel/mailboxes.ts"
import { Outage } from "../kernel/outage.ts"
import { type FirestoreError, FirestorePort } from "../kernel/ports/firestore.ts"
import { actorLayer } from "../kernel/supervise.ts"

/** Re-subscription backoff, capped well under rule 12's 15 s. */
const RESUBSCRIBE = Schedule.exponential("500 millis", 2).pipe(Schedule.union(Schedule.spaced("4 seconds")))

const listen = Effect.gen(function* () {
  const port = yield* FirestorePort
  const dispatcher = yield* DispatcherMailbox
  const outage = yield* Outage

  const untilReachable = outage.changes.pipe(
    Stream.filter((down) => !down),
    Stream.runHead
  )

  const subscribeOnce = Effect.gen(function* () {
    yield* untilReachable
    yield* port.watchDataReady.pipe(Stream.runForEach((change) => dispatcher.post(change)))
  })

  const onBroken = (error: FirestoreError) =>
    Effect.gen(function* () {
      yield* Effect.logWarning(`listener broke: ${error.message}`)
      if (error.operation === "checkConnectivity") return yield* outage.enter
      const reachable = yield* Effect.either(port.checkConnectivity)
      if (Either.isLeft(reachable)) yield* outage.enter
    })

  return yield* subscribeOnce.pipe(
    Effect.tapError(onBroken),
    Effect.retry(RESUBSCRIBE),
    Effect.zipRight(Effect.dieMessage("Firestore listener stream ended")),
    Effect.forever
  )
})

export const ListenerLive = actorLayer("listener", listen)
