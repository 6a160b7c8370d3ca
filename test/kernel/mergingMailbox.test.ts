/**
 * The wake mailbox: posts while one wake waits are merged into it; a post
 * made while the handler runs is handled once more; the activity count the
 * replay driver waits on returns to zero; posts made while the owner is not
 * listening are dropped.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Ref } from "effect"
import { Activity } from "../../kernel/activity.ts"
import { makeMergingMailbox } from "../../kernel/mailbox.ts"

const untilPendingIs = (activity: Activity, n: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < 1000; i++) {
      if ((yield* activity.pending) === n) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`activity never reached ${n}`)
  })

describe("merging mailbox", () => {
  it.effect("handles three posts made before it serves as one", () =>
    Effect.gen(function* () {
      const activity = yield* Activity
      const mailbox = yield* makeMergingMailbox<string>()
      const handled = yield* Ref.make(0)
      yield* mailbox.post("wake")
      yield* mailbox.post("wake")
      yield* mailbox.post("wake")
      expect(yield* activity.pending).toBe(1)
      const server = yield* Effect.fork(mailbox.serve(() => Ref.update(handled, (n) => n + 1)))
      yield* untilPendingIs(activity, 0)
      expect(yield* Ref.get(handled)).toBe(1)
      yield* Fiber.interrupt(server)
    }).pipe(Effect.provide(Activity.Default))
  )

  it.effect("handles a post made while the handler runs once more", () =>
    Effect.gen(function* () {
      const activity = yield* Activity
      const mailbox = yield* makeMergingMailbox<string>()
      const handled = yield* Ref.make(0)
      const inFirst = yield* Deferred.make<void>()
      const releaseFirst = yield* Deferred.make<void>()
      const server = yield* Effect.fork(
        mailbox.serve(() =>
          Effect.gen(function* () {
            const n = yield* Ref.updateAndGet(handled, (k) => k + 1)
            if (n === 1) {
              yield* Deferred.succeed(inFirst, undefined)
              yield* Deferred.await(releaseFirst)
            }
          })
        )
      )
      yield* mailbox.post("wake")
      yield* Deferred.await(inFirst)
      // Seen by nobody yet: the handler already looked before this change.
      yield* mailbox.post("wake")
      yield* mailbox.post("wake")
      yield* Deferred.succeed(releaseFirst, undefined)
      yield* untilPendingIs(activity, 0)
      expect(yield* Ref.get(handled)).toBe(2)
      yield* Fiber.interrupt(server)
    }).pipe(Effect.provide(Activity.Default))
  )

  it.effect("drops posts while its owner is not listening, and counts them as no activity", () =>
    Effect.gen(function* () {
      const activity = yield* Activity
      const mailbox = yield* makeMergingMailbox<string>()
      const handled = yield* Ref.make(0)
      const server = yield* Effect.fork(mailbox.serve(() => Ref.update(handled, (n) => n + 1)))
      yield* mailbox.listen(false)
      yield* mailbox.post("wake")
      yield* mailbox.post("wake")
      // A replay must be able to settle while the workers' supervisor is not listening.
      expect(yield* activity.pending).toBe(0)
      // Its owner learns that it was not listening, and so must look at the table itself.
      expect(yield* mailbox.listen(true)).toBe(false)
      expect(yield* mailbox.listen(true)).toBe(true)
      yield* mailbox.post("wake")
      expect(yield* activity.pending).toBe(1)
      yield* untilPendingIs(activity, 0)
      expect(yield* Ref.get(handled)).toBe(1)
      yield* Fiber.interrupt(server)
    }).pipe(Effect.provide(Activity.Default))
  )
})
