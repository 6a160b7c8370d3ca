/** Server-Sent Events framing and the response that carries them. */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Schedule, Stream } from "effect"
import { SESSION_COOKIE } from "../../schemas/api.ts"
import type { HttpAuthShape } from "./auth.ts"

/** One event: the payload is JSON on a single `data:` line (JSON has no raw newlines). */
export const sseEvent = (json: string, event?: string): string =>
  `${event === undefined ? "" : `event: ${event}\n`}data: ${json}\n\n`

/** Sent first: how long a client waits before reconnecting, and a comment that flushes the headers. */
export const SSE_PREAMBLE = "retry: 3000\n: connected\n\n"

const HEARTBEAT = ": ping\n\n"

/**
 * A text/event-stream response. A comment every 15 s keeps proxies from
 * closing an idle connection; the heartbeat ends with the stream. `until`
 * ends the stream early (the session that opened it ended).
 */
export const sseResponse = (
  events: Stream.Stream<string>,
  options: { readonly until?: Effect.Effect<void> } = {}
): HttpServerResponse.HttpServerResponse => {
  const heartbeat = Stream.repeatValue(HEARTBEAT).pipe(Stream.schedule(Schedule.spaced("15 seconds")))
  const merged = Stream.merge(events, heartbeat, { haltStrategy: "left" })
  const body = (options.until === undefined ? merged : Stream.interruptWhen(merged, options.until)).pipe(Stream.encodeText)
  return HttpServerResponse.stream(body, {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-cache, no-transform", "x-accel-buffering": "no" }
  })
}

/**
 * An event stream bound to the session of the request that opened it: it
 * ends when that session does (sign-out, eviction, expiry), so a browser
 * that signed out, or a stolen cookie that was revoked, stops receiving.
 */
export const sessionSse = (auth: HttpAuthShape, events: Stream.Stream<string>) =>
  Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
    sseResponse(events, { until: auth.whenEnded(request.cookies[SESSION_COOKIE] ?? "") })
  )
