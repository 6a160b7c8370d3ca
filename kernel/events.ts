/** The event bus: every observable act, stamped with the Clock's time at publication. */
import { Effect, PubSub, type Queue, type Scope } from "effect"
import type { AllocatorEvent, EventInput } from "../schemas/events.ts"
import { nowIso } from "./time.ts"

export class EventBus extends Effect.Service<EventBus>()("kernel/EventBus", {
  effect: Effect.gen(function* () {
    const hub = yield* PubSub.unbounded<AllocatorEvent>()
    return {
      publish: (event: EventInput): Effect.Effect<void> =>
        nowIso.pipe(
          Effect.flatMap((at) => PubSub.publish(hub, { ...event, at } as AllocatorEvent)),
          Effect.asVoid
        ),
      subscribe: PubSub.subscribe(hub) as Effect.Effect<Queue.Dequeue<AllocatorEvent>, never, Scope.Scope>
    }
  })
}) {}
