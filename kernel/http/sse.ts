/** Server-Sent Events framing and the response that carries them. */
import { HttpServerResponse } from "@effect/platform"
import { Schedule, Stream } from "effect"

/** One event: the payload is JSON on a single `data:` line (JSON has no raw newlines). */
export const sseEvent = (json: string, event?: string): string =>
  `${event === undefined ? "" : `event: ${event}\n`}data: ${json}\n\n`

/** Sent first: how long a client waits before reconnecting, and a comment that flushes the headers. */
export const SSE_PREAMBLE = "retry: 3000\n: connected\n\n"

const HEARTBEAT = ": ping\n\n"

/**
 * A text/event-stream response. A comment every 15 s keeps proxies from
 * closing an idle connection; the heartbeat ends with the stream.
 */
export const sseResponse = (events: Stream.Stream<string>): HttpServerResponse.HttpServerResponse => {
  const heartbeat = Stream.repeatValue(HEARTBEAT).pipe(Stream.schedule(Schedule.spaced("15 seconds")))
  const body = Stream.merge(events, heartbeat, { haltStrategy: "left" }).pipe(Stream.encodeText)
  return HttpServerResponse.stream(body, {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-cache, no-transform", "x-accel-buffering": "no" }
  })
}
