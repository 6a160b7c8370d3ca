/**
 * A typed request/response + event protocol over a Unix socket, NDJSON on the
 * wire. Generic: the execution host and the dashboard server both use it.
 *
 * Define a protocol once, in `schemas/`:
 *
 *   class Ping extends Schema.TaggedRequest<Ping>()("Ping", {
 *     payload: { n: Schema.Number }, success: Schema.Number, failure: Schema.Never
 *   }) {}
 *   const Event = Schema.Struct({ tick: Schema.Number })
 *   export const PingProtocol = defineProtocol(Schema.Union(Ping), Event)
 *
 * Serve it (`server.ts`): `serve({ socketPath, protocol, handlers: { Ping: (r) => Effect.succeed(r.n) } })`
 * gives `publish(event)` to push to every connection (and `onConnect` to push
 * a snapshot to a new one). Call it (`client.ts`): `connect({ socketPath,
 * protocol, onEvent })` gives `call(new Ping({ n: 1 }))`, typed by the request;
 * the client redials on its own and runs `onConnect` after each dial so the
 * caller can re-synchronise what it missed (events are not replayed).
 *
 * Frames (one JSON value per line):
 *   client → server  {"id":n,"req":<encoded request>}
 *   server → client  {"id":n,"exit":<encoded Exit of the handler>}
 *                    {"id":n,"bad":"one-line reason"}   request not decodable
 *                    {"ev":<encoded event>}
 * A frame longer than `maxFrameBytes` closes the connection. Backpressure: a
 * reader that falls `maxBufferedBytes` behind is disconnected (it redials and
 * re-synchronises) rather than letting the writer's memory grow; the client
 * pauses the socket while its event queue is long.
 */
import { Schema } from "effect"

export interface Protocol<Req extends Schema.TaggedRequest.All, ReqI, Ev, EvI> {
  readonly requests: Schema.Schema<Req, ReqI>
  readonly events: Schema.Schema<Ev, EvI>
}

export const defineProtocol = <Req extends Schema.TaggedRequest.All, ReqI, Ev, EvI>(
  requests: Schema.Schema<Req, ReqI>,
  events: Schema.Schema<Ev, EvI>
): Protocol<Req, ReqI, Ev, EvI> => ({ requests, events })

/** One handler per request tag, typed by that request's success and failure. */
export type Handlers<Req extends Schema.TaggedRequest.All, R> = {
  readonly [K in Req["_tag"]]: (
    request: Extract<Req, { readonly _tag: K }>
  ) => import("effect").Effect.Effect<
    Schema.WithResult.Success<Extract<Req, { readonly _tag: K }>>,
    Schema.WithResult.Failure<Extract<Req, { readonly _tag: K }>>,
    R
  >
}

/**
 * The schema of a request's answer (an Exit of its success and failure).
 * Protocol schemas need no services (`Protocol` fixes their context to
 * never), which the generic `Schema.exitSchema` cannot see through a union.
 */
export const answerSchema = <Q extends Schema.TaggedRequest.All>(request: Q) =>
  Schema.exitSchema(
    request as unknown as Schema.WithResult<
      Schema.WithResult.Success<Q>,
      Schema.WithResult.SuccessEncoded<Q>,
      Schema.WithResult.Failure<Q>,
      Schema.WithResult.FailureEncoded<Q>,
      never
    >
  )

export const ClientFrame = Schema.parseJson(Schema.Struct({ id: Schema.Number, req: Schema.Unknown }))

export const ServerFrame = Schema.parseJson(
  Schema.Union(
    Schema.Struct({ id: Schema.Number, exit: Schema.Unknown }),
    Schema.Struct({ id: Schema.Number, bad: Schema.String }),
    Schema.Struct({ ev: Schema.Unknown })
  )
)

export const defaultMaxFrameBytes = 4 * 1024 * 1024
export const defaultMaxBufferedBytes = 16 * 1024 * 1024

/**
 * Splits a utf8 stream into lines. Returns a feeder; it answers false when a
 * line grows past `maxBytes` (the caller closes the connection).
 */
export const lineSplitter = (onLine: (line: string) => void, maxBytes: number) => {
  let pending = ""
  return (chunk: string): boolean => {
    let start = 0
    let newline = chunk.indexOf("\n", start)
    while (newline !== -1) {
      const line = pending + chunk.slice(start, newline)
      pending = ""
      if (line.length > 0) onLine(line)
      start = newline + 1
      newline = chunk.indexOf("\n", start)
    }
    pending += chunk.slice(start)
    return pending.length <= maxBytes
  }
}

/** One line naming what was wrong, from a Schema parse error. */
export const oneLine = (message: string): string => message.split("\n").map((l) => l.trim()).filter((l) => l !== "").join(" ")
