/**
 * The fan-out behind /api/events: one subscription to the EventBus for the
 * whole server, each event serialized once, the same bytes written to every
 * open stream. With a stream of its own per browser (a fiber, a queue and a
 * JSON.stringify per event per client) 66 browsers cost the dashboard most
 * of a core during a burst; this costs one serialization per event and one
 * buffer append per client.
 *
 * Rules, in the order they apply:
 * - a client is registered and given its preamble synchronously, before the
 *   response is returned, and the broadcast loop is synchronous too: a
 *   client that has seen the preamble misses no event published after it;
 * - whatever the hub takes from the bus in one step (a burst) goes out as
 *   one chunk, one write per client;
 * - a client whose unsent backlog passes MAX_BACKLOG_BYTES (a browser that
 *   stopped reading) is dropped: its stream is destroyed and EventSource
 *   reconnects after `retry`. The chunks it held are shared with every other
 *   client, so even a lagging one holds no copy of its own;
 * - a comment every 15 s keeps proxies from closing idle streams;
 * - a stream ends when the session that opened it ends (sign-out, eviction,
 *   expiry), and that watch ends when the stream does.
 */
import { PassThrough } from "node:stream"
import { HttpServerResponse } from "@effect/platform"
import { Effect, Fiber, Queue, Runtime, type Scope } from "effect"
import type { AllocatorEvent } from "../../schemas/events.ts"
import { EventBus } from "../events.ts"
import { SSE_PREAMBLE, sseEvent } from "./sse.ts"

/** Unsent bytes a client may hold before it is dropped: a few hundred events. */
export const MAX_BACKLOG_BYTES = 256 * 1024
/** Events taken from the bus in one step at most; more simply make the next step. */
const MAX_BATCH = 512
const HEARTBEAT = Buffer.from(": ping\n\n")
const PREAMBLE = Buffer.from(SSE_PREAMBLE)

export interface SseHub {
  /** A text/event-stream response fed by the hub until `until` completes or the client leaves. */
  readonly open: (until: Effect.Effect<void>) => Effect.Effect<HttpServerResponse.HttpServerResponse>
  /** Open streams (for tests and gauges). */
  readonly size: () => number
}

/** The frames for one step's events, as one buffer. */
export const frames = (events: ReadonlyArray<AllocatorEvent>): Buffer => {
  let text = ""
  for (const event of events) text += sseEvent(JSON.stringify(event))
  return Buffer.from(text)
}

const backlog = (out: PassThrough) => out.writableLength + out.readableLength

export const makeSseHub: Effect.Effect<SseHub, never, EventBus | Scope.Scope> = Effect.gen(function* () {
  const bus = yield* EventBus
  const runtime = yield* Effect.runtime<never>()
  const clients = new Set<PassThrough>()

  const broadcast = (chunk: Buffer) => {
    for (const out of clients) {
      if (backlog(out) > MAX_BACKLOG_BYTES) {
        clients.delete(out)
        out.destroy()
      } else out.write(chunk)
    }
  }

  const queue = yield* bus.subscribe
  yield* Queue.takeBetween(queue, 1, MAX_BATCH).pipe(
    Effect.flatMap((events) => Effect.sync(() => clients.size > 0 && broadcast(frames([...events])))),
    Effect.forever,
    Effect.forkScoped
  )
  yield* Effect.sleep("15 seconds").pipe(
    Effect.zipRight(Effect.sync(() => broadcast(HEARTBEAT))),
    Effect.forever,
    Effect.forkScoped
  )
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      for (const out of clients) out.end()
      clients.clear()
    })
  )

  const open = (until: Effect.Effect<void>) =>
    Effect.sync(() => {
      const out = new PassThrough()
      out.write(PREAMBLE)
      clients.add(out)
      const watch = Runtime.runFork(runtime)(
        Effect.zipRight(
          until,
          Effect.sync(() => {
            clients.delete(out)
            out.end()
          })
        )
      )
      out.once("close", () => {
        clients.delete(out)
        Runtime.runFork(runtime)(Fiber.interrupt(watch))
      })
      return HttpServerResponse.raw(out, {
        contentType: "text/event-stream",
        headers: { "cache-control": "no-cache, no-transform", "x-accel-buffering": "no" }
      })
    })

  return { open, size: () => clients.size }
})
