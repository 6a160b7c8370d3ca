/**
 * Worker supervisor (rules 5 and 10): keeps up to MAX_WORKERS attempts
 * followed, taking queued rows lowest id first. Nothing new starts during an
 * outage (rule 12). MAX_WORKERS is read once: it is restart-required, and
 * forced to 1 when the sandbox is off.
 *
 * A slot is a fiber that follows one run after another:
 *
 *   claimed ──attempt──▶ outcome stored ──▶ claim the next queued row ──▶ …
 *                                   └──▶ (nothing queued, or an outage) ──▶ slot given back
 *
 * The slot claims its next row itself once the outcome is stored, so in a
 * burst no job goes through this actor's mailbox: a wake here only fills
 * slots that are free (a row became queued, an outage ended, a slot was
 * given back), and while every slot is taken it does not listen at all.
 * The executor's acknowledgement of a stored exit is sent
 * beside the slot, which does not wait for it.
 *
 * At start it first adopts every row still `running` after recovery: their
 * pipelines live in the executor (re-adopted, or ended with an exit recorded
 * while the allocator was down), and each takes a slot until its exit is
 * stored. The set of followed run ids lives outside the actor's restart
 * loop, so a restarted supervisor never follows a run twice.
 */
import { Effect, FiberSet, Layer, Option } from "effect"
import type { JobRun } from "../../schemas/job.ts"
import { effectiveMaxWorkers } from "../../schemas/tunables.ts"
import { wake, WorkerMailbox } from "../../kernel/mailboxes.ts"
import { Outage } from "../../kernel/outage.ts"
import { Executor } from "../../kernel/ports/executor.ts"
import { JobStore } from "../../kernel/store/jobs.ts"
import { TunableStore } from "../../kernel/store/tunables.ts"
import { actorLayer } from "../../kernel/supervise.ts"
import { acknowledgeRun, followRun, runAttempt } from "./attempt.ts"

/** One attempt in a slot; answers whether a pipeline ran (an exit to acknowledge). */
type Work = Effect.Effect<boolean, never, Effect.Effect.Context<ReturnType<typeof runAttempt>>>

/** What outlives a restart of the actor: the slots' fibers, the runs they follow, how many slots are taken. */
interface Slots {
  readonly fibers: FiberSet.FiberSet
  readonly followed: Set<number>
  taken: number
}

const superviseWorkers = (slots: Slots) =>
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

    const claimNext: Effect.Effect<Option.Option<JobRun>> = Effect.flatMap(outage.isDown, (down) =>
      down ? Effect.succeedNone : jobs.claimNextQueued
    )

    const follow = (run: JobRun, work: Work) =>
      Effect.gen(function* () {
        slots.followed.add(run.id)
        const ran = yield* work.pipe(
          Effect.catchAllCause((cause) => Effect.as(Effect.logError(`attempt ${run.id} crashed`, cause), false)),
          Effect.ensuring(Effect.sync(() => slots.followed.delete(run.id)))
        )
        if (ran) yield* FiberSet.run(slots.fibers, acknowledgeRun(run))
      })

    // The slot is given back once, when nothing more is claimed or the fiber ends. Wakes posted while the
    // supervisor was not listening were dropped, so it is woken to look again; otherwise it saw them all.
    const slot = (first: JobRun, firstWork: Work) =>
      Effect.gen(function* () {
        yield* follow(first, firstWork)
        while (true) {
          // More slots than MAX_WORKERS (runs adopted at start beyond it): this one ends instead of claiming.
          if (slots.taken > maxWorkers) return
          const next = yield* claimNext
          if (Option.isNone(next)) return
          yield* follow(next.value, runAttempt(next.value))
        }
      }).pipe(
        Effect.provide(context),
        Effect.catchAllCause((cause) => Effect.logError(`worker slot crashed`, cause)),
        Effect.ensuring(
          Effect.suspend(() => {
            slots.taken--
            return Effect.flatMap(mailbox.listen(true), (wasListening) => (wasListening ? Effect.void : mailbox.post(wake)))
          })
        )
      )

    const take = (run: JobRun, work: Work) =>
      Effect.suspend(() => {
        slots.taken++
        return FiberSet.run(slots.fibers, slot(run, work))
      })

    // Rows recovery left running: the executor has them (or had them, and kept the exit).
    const adopt = Effect.gen(function* () {
      const running = (yield* jobs.inStates(["running"])).filter((r) => !slots.followed.has(r.id))
      if (running.length === 0) return
      const known = yield* executor.status(running.map((r) => r.id)).pipe(
        Effect.catchAll((e) => Effect.as(Effect.logWarning(`cannot ask the executor about running rows yet: ${e.message}`), undefined))
      )
      for (const run of running) {
        // Claimed by an earlier incarnation of this actor and never started.
        if (known?.get(run.id)?._tag === "Unknown") yield* jobs.requeueUnstarted(run.id)
        else yield* take(run, Effect.as(followRun(run), true))
      }
    })

    // With every slot taken, wakes are dropped until a slot is given back (see the header).
    const fillSlots = Effect.gen(function* () {
      while (slots.taken < maxWorkers) {
        const claimed = yield* claimNext
        if (Option.isNone(claimed)) return
        yield* take(claimed.value, runAttempt(claimed.value))
      }
      yield* mailbox.listen(false)
    })

    yield* adopt
    yield* mailbox.listen(true)
    yield* mailbox.post(wake)
    return yield* mailbox.serve(() => fillSlots)
  })

export const WorkersLive = Layer.unwrapScoped(
  Effect.gen(function* () {
    // Interrupting these on shutdown only stops following: the pipelines belong to the executor.
    const slots: Slots = { fibers: yield* FiberSet.make(), followed: new Set(), taken: 0 }
    return actorLayer("workers", superviseWorkers(slots))
  })
)
