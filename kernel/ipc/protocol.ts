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
import type { Writable } from "node:stream"
import { Either, type Exit, type ParseResult, Schema } from "effect"

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

/**
 * One answer codec per request tag, built on first use: a request's success
 * and failure schemas belong to its class, so every request of one tag shares
 * them. Building `Schema.exitSchema` per call made a new schema, whose parser
 * Schema then compiled again for every frame.
 */
export const answerCodecs = () => {
  const decoders = new Map<string, (u: unknown) => Either.Either<Exit.Exit<unknown, unknown>, ParseResult.ParseError>>()
  const encoders = new Map<string, (exit: Exit.Exit<unknown, unknown>) => Either.Either<unknown, ParseResult.ParseError>>()
  return {
    decode: <Q extends Schema.TaggedRequest.All>(request: Q) => {
      let decode = decoders.get(request._tag)
      if (decode === undefined) {
        decode = Schema.decodeUnknownEither(answerSchema(request)) as (u: unknown) => Either.Either<Exit.Exit<unknown, unknown>, ParseResult.ParseError>
        decoders.set(request._tag, decode)
      }
      return decode as (u: unknown) => Either.Either<Exit.Exit<Schema.WithResult.Success<Q>, Schema.WithResult.Failure<Q>>, ParseResult.ParseError>
    },
    encode: <Q extends Schema.TaggedRequest.All>(request: Q) => {
      let encode = encoders.get(request._tag)
      if (encode === undefined) {
        encode = Schema.encodeEither(answerSchema(request)) as (exit: Exit.Exit<unknown, unknown>) => Either.Either<unknown, ParseResult.ParseError>
        encoders.set(request._tag, encode)
      }
      return encode as (exit: Exit.Exit<Schema.WithResult.Success<Q>, Schema.WithResult.Failure<Q>>) => Either.Either<unknown, ParseResult.ParseError>
    }
  }
}

/**
 * Frames are checked by hand (JSON.parse and the shape of the envelope): the
 * envelope is three fixed shapes, and Schema's JSON-and-union parse cost more
 * per frame than the rest of the frame's handling. What a frame carries (a
 * request, an answer, an event) is still decoded with its schema.
 */
export type ClientFrame = { readonly id: number; readonly req: unknown }
export type ServerFrame =
  | { readonly id: number; readonly exit: unknown }
  | { readonly id: number; readonly bad: string }
  | { readonly ev: unknown }

const parseLine = (line: string): Either.Either<Record<string, unknown>, string> => {
  try {
    const value: unknown = JSON.parse(line)
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? Either.right(value as Record<string, unknown>)
      : Either.left("a frame is a JSON object")
  } catch (e) {
    return Either.left(`not JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
}

export const decodeClientFrame = (line: string): Either.Either<ClientFrame, string> =>
  Either.flatMap(parseLine(line), (o) =>
    typeof o.id === "number" && "req" in o ? Either.right({ id: o.id, req: o.req }) : Either.left("expected {id: number, req}")
  )

export const decodeServerFrame = (line: string): Either.Either<ServerFrame, string> =>
  Either.flatMap(parseLine(line), (o): Either.Either<ServerFrame, string> => {
    if ("ev" in o) return Either.right({ ev: o.ev })
    if (typeof o.id !== "number") return Either.left("expected {id: number, exit | bad} or {ev}")
    if ("exit" in o) return Either.right({ id: o.id, exit: o.exit })
    if (typeof o.bad === "string") return Either.right({ id: o.id, bad: o.bad })
    return Either.left("expected {id: number, exit | bad} or {ev}")
  })

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

const uncork = (socket: Writable) => socket.uncork()

/**
 * Frames written in one tick leave in one system call: the first write of a
 * tick corks the socket and the next tick uncorks it. On a loaded machine a
 * socket write costs about a millisecond of CPU, more than the frame's own
 * handling.
 */
export const corkForTick = (socket: Writable) => {
  if (socket.writableCorked > 0) return
  socket.cork()
  process.nextTick(uncork, socket)
}

/** One line naming what was wrong, from a Schema parse error. */
export const oneLine = (message: string): string => message.split("\n").map((l) => l.trim()).filter((l) => l !== "").join(" ")
