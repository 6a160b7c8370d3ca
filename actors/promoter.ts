/**
 * Promoter (rule 4): moves due cooldown rows to queued. It sleeps until the
 * earliest due time instead of polling; a new cooling row wakes it early
 * (the store posts a Wake), and so does its own timer, which posts the same
 * message when it fires.
 */
import { Effect, FiberHandle, Option } from "effect"
import { PromoterMailbox, wake } from "../kernel/mailboxes.ts"
import { JobStore } from "../kernel/store/jobs.ts"
import { actorLayer } from "../kernel/supervise.ts"
import { millisUntil } from "../kernel/time.ts"

const promote = Effect.gen(function* () {
  const mailbox = yield* PromoterMailbox
  const jobs = yield* JobStore
  const timer = yield* FiberHandle.make()

  const promoteDueAndRearm = Effect.gen(function* () {
    const promoted = yield* jobs.promoteDue
    if (promoted.length > 0) yield* Effect.logInfo(`promoted ${promoted.length} row(s) to queued`)
    const next = yield* jobs.nextCooldownDue
    if (Option.isSome(next)) {
      const wait = yield* millisUntil(next.value)
      yield* FiberHandle.run(timer, Effect.sleep(wait).pipe(Effect.zipRight(mailbox.post(wake))))
    } else {
      yield* FiberHandle.clear(timer)
    }
  })

  yield* mailbox.post(wake)
  return yield* mailbox.serve(() => promoteDueAndRearm)
}).pipe(Effect.scoped)

export const PromoterLive = actorLayer("promoter", promote)
