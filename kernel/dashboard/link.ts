/**
 * The dashboard server's connection to the kernel's control socket. It
 * redials on its own for as long as the process lives (kernel/ipc/client.ts);
 * while it is down, calls fail at once with IpcUnavailable and the dashboard
 * keeps serving reads from its own read-only database.
 *
 * Pushed events land in a bounded hub: a subscriber (an SSE client, metrics)
 * that falls more than HUB_CAPACITY events behind loses the oldest, so a
 * stuck browser costs a fixed amount of memory, never a growing one.
 */
import { Context, Duration, Effect, Layer, PubSub, SubscriptionRef } from "effect"
import type { ControlRequest, LiveState } from "../../schemas/control.ts"
import type { AllocatorEvent } from "../../schemas/events.ts"
import { connect, type IpcClient } from "../ipc/client.ts"
import { ControlProtocol } from "../control/protocol.ts"

const HUB_CAPACITY = 4096

export interface KernelLinkShape {
  readonly call: IpcClient<ControlRequest>["call"]
  readonly isConnected: Effect.Effect<boolean>
  /** Every AllocatorEvent the kernel published while connected, with the kernel's timestamps. */
  readonly events: PubSub.PubSub<AllocatorEvent>
  /** The kernel's live state as last pushed; undefined until the first connection. */
  readonly live: SubscriptionRef.SubscriptionRef<LiveState | undefined>
}

export class KernelLink extends Context.Tag("kernel/dashboard/KernelLink")<KernelLink, KernelLinkShape>() {}

export const kernelLinkLayer = (socketPath: string) =>
  Layer.scoped(
    KernelLink,
    Effect.gen(function* () {
      const events = yield* PubSub.sliding<AllocatorEvent>(HUB_CAPACITY)
      const live = yield* SubscriptionRef.make<LiveState | undefined>(undefined)
      const client = yield* connect({
        socketPath,
        protocol: ControlProtocol,
        dialTimeout: Duration.millis(500),
        onEvent: (event) =>
          event._tag === "bus" ? Effect.asVoid(PubSub.publishAll(events, event.events)) : SubscriptionRef.set(live, event),
        onConnect: Effect.logInfo(`connected to the allocator on ${socketPath}`)
      })
      return { call: client.call, isConnected: client.isConnected, events, live }
    })
  )
