/**
 * Worker supervisor (rules 5 and 10): keeps up to MAX_WORKERS attempts
 * followed, taking queued rows lowest id first. Nothing new starts during an
 * outage (rule 12). MAX_WORKERS is read once: it is restart-required, and
 * forced to 1 when the sandbox is off.
 *
 * At start it first adopts every row still `running` after recovery: their
 * pipelines live in the executor (re-adopted, or ended with an exit recorded
 * while the allocator was down), and each counts against MAX_WORKERS until
 * its exit is stored. One follower per run id, kept outside the actor's
 * restart loop, so a restarted supervisor never follows a run twice.
 */
import { Effect, FiberMap, Layer, Option, Ref } from "effect"
import type { JobRun } from "../../schemas/job.ts"
import { effectiveMaxWorkers } from "../../schemas/tunables.ts"
import { wake, WorkerMailbox } from "../../kernel/mailboxes.ts"
import { Outage } from "../../kernel/outage.ts"
import { Executor } from "../../kernel/ports/executor.ts"
import { JobStore } from "../../kernel/store/jobs.ts"
import { TunableStore } from "../../kernel/store/tunables.ts"
import { actorLayer } from "../../kernel/supervise.ts"
import { followRun, runAttempt } from "./attempt.ts"

type Work = Effect.Effect<void, never, Effect.Effect.Context<ReturnType<typeof runAttempt>>>

const superviseWorkers = (followers: FiberMap.FiberMap<number>, busy: Ref.Ref<number>) =>
  Effect.gen(function* () {
    const mailbox = yield* WorkerMailbox
    const jobs = yield* JobStore
    const outage = yield* Outage
    const executor = yield* Executor
    const t = yield* (yield* TunableStore).get
    const maxWorkers = effectiveMaxWorkers(t)
    if (t.SANDBOX_ENABLED === 0 && t.MAX_WORKERS > 1) {
      yield* Effect.logWarning(`sandbox is off: running 1 worker instead of MAX_WORKERS=${t.MAX_WORKERS}`)
    }
    const context = yield* Effect.context<Effect.Effect.Context<Work>>()

    // The slot is given back once, when the outcome is stored (before the executor's acknowledgement) or when the follower ends.
    const follow = (run: JobRun, work: (stored: Effect.Effect<void>) => Work) =>
      Effect.gen(function* () {
        if (yield* FiberMap.has(followers, run.id)) return
        yield* Ref.update(busy, (n) => n + 1)
        let held = true
        const release = Effect.suspend(() => {
          if (!held) return Effect.void
          held = false
          return Ref.update(busy, (n) => n - 1).pipe(Effect.zipRight(mailbox.post(wake)))
        })
        yield* FiberMap.run(
          followers,
          run.id,
          work(release).pipe(
            Effect.provide(context),
            Effect.catchAllCause((cause) => Effect.logError(`attempt ${run.id} crashed`, cause)),
            Effect.ensuring(release)
          )
        )
      })

    // Rows recovery left running: the executor has them (or had them, and kept the exit).
    const adopt = Effect.gen(function* () {
      const running = (yield* jobs.inStates(["running"])).filter((r) => !FiberMap.unsafeHas(followers, r.id))
      if (running.length === 0) return
      const known = yield* executor.status(running.map((r) => r.id)).pipe(
        Effect.catchAll((e) => Effect.as(Effect.logWarning(`cannot ask the executor about running rows yet: ${e.message}`), undefined))
      )
      for (const run of running) {
        // Claimed by an earlier incarnation of this actor and never started.
        if (known?.get(run.id)?._tag === "Unknown") yield* jobs.requeueUnstarted(run.id)
        else yield* follow(run, (stored) => followRun(run, stored))
      }
    })

    const fillSlots = Effect.gen(function* () {
      while (!(yield* outage.isDown) && (yield* Ref.get(busy)) < maxWorkers) {
        const claimed = yield* jobs.claimNextQueued
        if (Option.isNone(claimed)) return
        yield* follow(claimed.value, (stored) => runAttempt(claimed.value, stored))
      }
    })

    yield* adopt
    yield* mailbox.post(wake)
    return yield* mailbox.serve(() => fillSlots)
  })

export const WorkersLive = Layer.unwrapScoped(
  Effect.gen(function* () {
    // Interrupting these on shutdown only stops following: the pipelines belong to the executor.
    const followers = yield* FiberMap.make<number>()
    const busy = yield* Ref.make(0)
    return actorLayer("workers", superviseWorkers(followers, busy))
  })
)
