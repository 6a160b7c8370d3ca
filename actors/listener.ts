/**
 * Listener (rule 1): forwards every change of the Data Ready query to the
 * dispatcher. When the subscription breaks it asks whether Firestore is
 * reachable: if not, it enters outage mode and waits for the outage actor to
 * see Firestore again; either way it subscribes anew, and the ADDED replay
 * that comes with a new subscription is absorbed by dedup.
 */
import { Effect, Either, Schedule, Stream } from "effect"
import { DispatcherMailbox } from "../kernel/mailboxes.ts"
import { Outage } from "../kernel/outage.ts"
import { FirestorePort } from "../kernel/ports/firestore.ts"
import { actorLayer } from "../kernel/supervise.ts"

const RESUBSCRIBE = Schedule.exponential("1 second", 2).pipe(Schedule.union(Schedule.spaced("60 seconds")))

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

  const onBroken = (message: string) =>
    Effect.gen(function* () {
      yield* Effect.logWarning(`listener broke: ${message}`)
      const reachable = yield* Effect.either(port.checkConnectivity)
      if (Either.isLeft(reachable)) yield* outage.enter
    })

  return yield* subscribeOnce.pipe(
    Effect.tapError((e) => onBroken(e.message)),
    Effect.retry(RESUBSCRIBE),
    Effect.zipRight(Effect.dieMessage("Firestore listener stream ended")),
    Effect.forever
  )
})

export const ListenerLive = actorLayer("listener", listen)
