/**
 * Outage watch (rule 12): while Firestore is unreachable, probe it with
 * backoff; when it answers, leave outage mode, retry the Failed writes that
 * waited, in run order, and let the workers take new work again. The
 * listener re-subscribes on its own once outage mode ends.
 */
import { Effect, Schedule, Stream } from "effect"
import { wake, WorkerMailbox } from "../kernel/mailboxes.ts"
import { Outage } from "../kernel/outage.ts"
import { FirestorePort } from "../kernel/ports/firestore.ts"
import { actorLayer } from "../kernel/supervise.ts"

export const PROBE_BACKOFF = Schedule.exponential("1 second", 2).pipe(Schedule.union(Schedule.spaced("60 seconds")))

const watch = Effect.gen(function* () {
  const outage = yield* Outage
  const port = yield* FirestorePort
  const workers = yield* WorkerMailbox

  const recover = Effect.gen(function* () {
    yield* Effect.sleep("1 second")
    yield* port.checkConnectivity.pipe(Effect.retry(PROBE_BACKOFF))
    const waiting = yield* outage.leave
    for (const retry of waiting) yield* retry
    yield* workers.post(wake)
  })

  yield* outage.changes.pipe(
    Stream.filter((down) => down),
    Stream.runForEach(() => recover)
  )
  return yield* Effect.never
})

export const OutageWatchLive = actorLayer("outage-watch", watch)
