/**
 * Worker supervisor (rule 5): keeps up to MAX_WORKERS attempts running,
 * taking queued rows lowest id first. Nothing new starts during an outage
 * (rule 12). MAX_WORKERS is read once: it is restart-required, and forced
 * to 1 when the sandbox is off.
 */
import { Effect, Option, Ref } from "effect"
import { effectiveMaxWorkers } from "../../schemas/tunables.ts"
import { wake, WorkerMailbox } from "../../kernel/mailboxes.ts"
import { Outage } from "../../kernel/outage.ts"
import { RunRegistry } from "../../kernel/runRegistry.ts"
import { JobStore } from "../../kernel/store/jobs.ts"
import { TunableStore } from "../../kernel/store/tunables.ts"
import { actorLayer } from "../../kernel/supervise.ts"
import { runAttempt } from "./attempt.ts"

const superviseWorkers = Effect.gen(function* () {
  const mailbox = yield* WorkerMailbox
  const registry = yield* RunRegistry
  const jobs = yield* JobStore
  const outage = yield* Outage
  const t = yield* (yield* TunableStore).get
  const maxWorkers = effectiveMaxWorkers(t)
  if (t.SANDBOX_ENABLED === 0 && t.MAX_WORKERS > 1) {
    yield* Effect.logWarning(`sandbox is off: running 1 worker instead of MAX_WORKERS=${t.MAX_WORKERS}`)
  }
  const busy = yield* Ref.make(0)
  const context = yield* Effect.context<Effect.Effect.Context<ReturnType<typeof runAttempt>>>()

  const fillSlots = Effect.gen(function* () {
    while (!(yield* outage.isDown) && (yield* Ref.get(busy)) < maxWorkers) {
      const claimed = yield* jobs.claimNextQueued
      if (Option.isNone(claimed)) return
      const run = claimed.value
      yield* Ref.update(busy, (n) => n + 1)
      yield* registry.run(
        run.id,
        runAttempt(run).pipe(
          Effect.provide(context),
          Effect.catchAllCause((cause) => Effect.logError(`attempt ${run.id} crashed`, cause)),
          Effect.ensuring(Ref.update(busy, (n) => n - 1).pipe(Effect.zipRight(mailbox.post(wake))))
        )
      )
    }
  })

  yield* mailbox.post(wake)
  return yield* mailbox.serve(() => fillSlots)
})

export const WorkersLive = actorLayer("workers", superviseWorkers)
