/**
 * Batch rerun as a server-side job. Starting one answers at once with its
 * id; the documents are then taken one after another (mark failed for
 * retry, then retry, both through the command bus as the admin who started
 * it, so both are audited), and every change of an item is published. A
 * page that was closed re-attaches by id and gets the whole job, then each
 * change, until it finishes.
 *
 * Ordering rule: a document's retry is sent only after its mark-failed was
 * accepted, and the next document starts only after the previous one got
 * its answer, so the command log reads in the order the operator expects.
 *
 * Documents are paced PACE apart: a batch of two hundred is two hundred
 * Firestore writes and two hundred new attempts, which should not arrive as
 * one burst in front of the hospital's own orders; it also lets a watcher
 * see the batch move one document at a time.
 *
 * Jobs live in this process's memory: the newest KEEP are kept, finished or
 * not. A restart of the allocator ends a running batch where it stands
 * (each item already done stays done; the rest were never sent).
 */
import { Clock, Effect, Option, PubSub, Ref, Stream } from "effect"
import type { BatchItemStatus, BatchJob } from "../../schemas/api/operations.ts"
import { CommandBus } from "../commandBus.ts"
import { isoFromMillis } from "../time.ts"

const KEEP = 20
const PACE = "250 millis"

const nowIso = Effect.map(Clock.currentTimeMillis, isoFromMillis)

const count = (job: BatchJob, status: BatchItemStatus) => job.items.filter((i) => i.status === status).length

export const makeBatchReruns = Effect.gen(function* () {
  const bus = yield* CommandBus
  const scope = yield* Effect.scope
  const jobs = yield* Ref.make<ReadonlyArray<BatchJob>>([])
  const changes = yield* PubSub.unbounded<BatchJob>()
  const sequence = yield* Ref.make(0)

  const update = (id: string, change: (job: BatchJob) => BatchJob) =>
    Effect.flatMap(
      Ref.modify(jobs, (all): readonly [Option.Option<BatchJob>, ReadonlyArray<BatchJob>] => {
        const found = all.find((j) => j.id === id)
        if (found === undefined) return [Option.none(), all]
        const changed = change(found)
        const next = { ...changed, done: count(changed, "done"), refused: count(changed, "refused") }
        return [Option.some(next), all.map((j) => (j.id === id ? next : j))]
      }),
      Option.match({ onNone: () => Effect.void, onSome: (job) => PubSub.publish(changes, job) })
    )

  const setItem = (id: string, index: number, status: BatchItemStatus, message: string, run: number | null = null) =>
    update(id, (job) => ({
      ...job,
      items: job.items.map((item, i) => (i === index ? { ...item, status, message, run } : item))
    }))

  const rerunOne = (id: string, index: number, doc: string, user: string) =>
    Effect.gen(function* () {
      yield* setItem(id, index, "marking", "marking failed for retry")
      const marked = yield* bus.execute(user, { _tag: "mark_failed_for_retry", doc })
      if (!marked.ok) return yield* setItem(id, index, "refused", `Not re-run: ${marked.message}.`)
      yield* setItem(id, index, "retrying", "marked failed; retrying")
      const retried = yield* bus.execute(user, { _tag: "retry", doc })
      if (!retried.ok) {
        return yield* setItem(id, index, "refused", `Marked failed, but the retry was refused: ${retried.message}.`)
      }
      yield* setItem(id, index, "done", retried.message, retried.run ?? null)
    })

  const get = (id: string) => Effect.map(Ref.get(jobs), (all) => Option.fromNullable(all.find((j) => j.id === id)))

  return {
    start: (user: string, docs: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const unique = [...new Set(docs)]
        const id = `b${yield* Ref.updateAndGet(sequence, (n) => n + 1)}`
        const job: BatchJob = {
          id,
          startedBy: user,
          startedAt: yield* nowIso,
          finishedAt: null,
          state: "running",
          items: unique.map((doc) => ({ doc, status: "pending", message: "waiting its turn", run: null })),
          done: 0,
          refused: 0
        }
        yield* Ref.update(jobs, (all) => [job, ...all].slice(0, KEEP))
        yield* Effect.forEach(
          unique,
          (doc, index) => (index === 0 ? rerunOne(id, index, doc, user) : Effect.zipRight(Effect.sleep(PACE), rerunOne(id, index, doc, user))),
          { discard: true }
        ).pipe(
          Effect.zipRight(Effect.flatMap(nowIso, (at) => update(id, (j) => ({ ...j, state: "finished", finishedAt: at })))),
          Effect.annotateLogs({ batch: id, user }),
          Effect.forkIn(scope)
        )
        return job
      }),
    get,
    list: Ref.get(jobs),
    /** The job now, then after each change, ending with the change that finishes it. */
    watch: (id: string) =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const queue = yield* PubSub.subscribe(changes)
          const current = yield* get(id)
          if (Option.isNone(current)) return Stream.empty
          const later = Stream.fromQueue(queue).pipe(Stream.filter((j) => j.id === id))
          return Stream.concat(Stream.make(current.value), later).pipe(Stream.takeUntil((j) => j.state === "finished"))
        })
      )
  }
})

export type BatchReruns = Effect.Effect.Success<typeof makeBatchReruns>
