/**
 * Outage watch (rule 12): while Firestore is unreachable, probe it every few
 * seconds; when it answers, leave outage mode, retry the Failed writes that
 * waited, in run order, and let the workers take new work again. The
 * listener re-subscribes on its own once outage mode ends.
 *
 * The end of an outage must be noticed within 15 s (rule 12), so the probe
 * interval is capped at PROBE_CAP, not a long backoff: one probe costs one
 * bounded read of one document, and a probe that hangs is cut at the port's
 * connectivity timeout (5 s by default), so the return is seen within
 * PROBE_CAP + that timeout.
 */
import { Effect, Schedule, Stream } from "effect"
import { wake, WorkerMailbox } from "../kernel/mailboxes.ts"
import { Outage } from "../kernel/outage.ts"
import { FirestorePort } from "../kernel/ports/firestore.ts"
import { actorLayer } from "../kernel/supervise.ts"

export const PROBE_CAP = "4 seconds"

/** 0.5 s, 1 s, 2 s, then every PROBE_CAP (Schedule.union takes the shorter delay). */
export const PROBE_BACKOFF = Schedule.exponential("500 millis", 2).pipe(Schedule.union(Schedule.spaced(PROBE_CAP)))

const watch = Effect.gen(function* () {
  const outage = yield* Outage
  const port = yield* FirestorePort
  const workers = yield* WorkerMailbox

  const recover = Effect.gen(function* () {
    yield* Effect.sleep("500 millis")
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
