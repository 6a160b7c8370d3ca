/**
 * Typed mailboxes: the only way actors talk to each other. The kernel owns
 * every mailbox; an actor takes from its own and offers to others by Tag.
 */
import { Context, Effect, Layer, Queue } from "effect"
import { Activity } from "./activity.ts"

export interface Mailbox<A> {
  readonly post: (message: A) => Effect.Effect<void>
  /** Handles messages one at a time, forever. A handler's failure or defect is the caller's to catch. */
  readonly serve: <E, R>(handle: (message: A) => Effect.Effect<void, E, R>) => Effect.Effect<never, E, R>
  readonly size: Effect.Effect<number>
}

export const makeMailbox = <A>(capacity: number): Effect.Effect<Mailbox<A>, never, Activity> =>
  Effect.gen(function* () {
    const activity = yield* Activity
    const queue = yield* Queue.bounded<A>(capacity)
    return {
      post: (message) => activity.begin.pipe(Effect.zipRight(Queue.offer(queue, message)), Effect.asVoid),
      serve: (handle) =>
        Queue.take(queue).pipe(
          Effect.flatMap((message) => handle(message).pipe(Effect.ensuring(activity.end))),
          Effect.forever
        ),
      size: Queue.size(queue)
    }
  })

/** Declares a mailbox Tag together with the layer that creates it. */
export const mailboxLayer = <I, A>(tag: Context.Tag<I, Mailbox<A>>, capacity = 4096) =>
  Layer.effect(tag, makeMailbox<A>(capacity))

/**
 * A mailbox for "look at the table again" messages, which carry nothing: a
 * post while one is already waiting is the same request, so it is merged
 * into it. A post during handling still queues one more, so a change made
 * after the handler looked is never missed. A burst of 2,000 arrivals
 * posted 2,000 wakes to the busy workers' supervisor, each handled for
 * nothing.
 */
export interface WakeMailbox<A> extends Mailbox<A> {
  /**
   * While not listening, posts are dropped (and count as no activity): the
   * owner has nothing to do with a wake until it listens again, and looks
   * at the table itself when it does. The workers' supervisor stops
   * listening while every slot is taken; each slot claims its own next row.
   * Answers whether it was listening before, i.e. whether no post was dropped.
   */
  readonly listen: (listening: boolean) => Effect.Effect<boolean>
}

export const makeMergingMailbox = <A>(): Effect.Effect<WakeMailbox<A>, never, Activity> =>
  Effect.gen(function* () {
    const activity = yield* Activity
    const queue = yield* Queue.bounded<A>(1)
    let waiting = false
    let listening = true
    return {
      listen: (on) =>
        Effect.sync(() => {
          const was = listening
          listening = on
          return was
        }),
      post: (message) =>
        Effect.suspend(() => {
          if (waiting || !listening) return Effect.void
          waiting = true
          return activity.begin.pipe(Effect.zipRight(Queue.offer(queue, message)), Effect.asVoid)
        }),
      serve: (handle) =>
        Queue.take(queue).pipe(
          Effect.flatMap((message) => {
            waiting = false
            return handle(message).pipe(Effect.ensuring(activity.end))
          }),
          Effect.forever
        ),
      size: Queue.size(queue)
    }
  })

export const mergingMailboxLayer = <I, A>(tag: Context.Tag<I, WakeMailbox<A>>) => Layer.effect(tag, makeMergingMailbox<A>())
