/**
 * The serving side of an IPC protocol (see `protocol.ts` for the frames).
 *
 * A socket path is owned by one live server: a path left by a dead one
 * (nothing accepts on it) is removed and reused; a path where a server
 * answers makes `serve` fail, so two hosts never share one data dir.
 * A request whose client has gone is still finished (a `start` must not be
 * cut in half); only its answer is dropped.
 */
import { promises as fs } from "node:fs"
import * as net from "node:net"
import { Data, Effect, Runtime, Schema, type Scope } from "effect"
import {
  answerCodecs,
  corkForTick,
  decodeClientFrame,
  defaultMaxBufferedBytes,
  defaultMaxFrameBytes,
  lineSplitter,
  oneLine,
  type Handlers,
  type Protocol
} from "./protocol.ts"
import { dial } from "./dial.ts"

export class IpcServeError extends Data.TaggedError("IpcServeError")<{ readonly message: string }> {}

export interface Connection<Ev> {
  readonly id: number
  /** Pushes an event to this connection only. */
  readonly send: (event: Ev) => void
}

export interface IpcServer<Ev> {
  /** Pushes an event to every connection. */
  readonly publish: (event: Ev) => void
  readonly connections: () => number
}

export interface ServeOptions<Req extends Schema.TaggedRequest.All, ReqI, Ev, EvI, R> {
  readonly socketPath: string
  readonly protocol: Protocol<Req, ReqI, Ev, EvI>
  readonly handlers: Handlers<Req, R>
  /** Runs for each new connection before its requests are read (e.g. a snapshot of events it missed). */
  readonly onConnect?: (connection: Connection<Ev>) => Effect.Effect<void, never, R>
  readonly maxFrameBytes?: number
  readonly maxBufferedBytes?: number
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error))

const listen = (server: net.Server, socketPath: string) =>
  Effect.async<void, NodeJS.ErrnoException>((resume) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off("listening", onListening)
      resume(Effect.fail(error))
    }
    const onListening = () => {
      server.off("error", onError)
      resume(Effect.void)
    }
    server.once("error", onError)
    server.once("listening", onListening)
    server.listen(socketPath)
  })

/** Listens on `socketPath` (taking over a stale socket file); closed with the scope. */
export const serve = <Req extends Schema.TaggedRequest.All, ReqI, Ev, EvI, R>(
  options: ServeOptions<Req, ReqI, Ev, EvI, R>
): Effect.Effect<IpcServer<Ev>, IpcServeError, R | Scope.Scope> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<R>()
    const runFork = Runtime.runFork(runtime)
    const maxFrame = options.maxFrameBytes ?? defaultMaxFrameBytes
    const maxBuffered = options.maxBufferedBytes ?? defaultMaxBufferedBytes
    const answers = answerCodecs()
    const decodeRequest = Schema.decodeUnknownEither(options.protocol.requests)
    const encodeEvent = Schema.encodeSync(options.protocol.events)
    const sockets = new Set<net.Socket>()
    let nextId = 0

    const write = (socket: net.Socket, frame: unknown) => {
      if (socket.destroyed) return
      corkForTick(socket)
      socket.write(`${JSON.stringify(frame)}\n`)
      // A reader this far behind is cut off; it redials and re-synchronises.
      if (socket.writableLength > maxBuffered) socket.destroy()
    }

    const answer = (socket: net.Socket, id: number, request: Req) => {
      const handler = options.handlers[request._tag as Req["_tag"]] as (
        r: Req
      ) => Effect.Effect<Schema.WithResult.Success<Req>, Schema.WithResult.Failure<Req>, R>
      const encode = answers.encode(request)
      runFork(
        Effect.map(Effect.exit(handler(request)), (exit) => {
          const encoded = encode(exit)
          if (encoded._tag === "Left") write(socket, { id, bad: `cannot encode the answer: ${oneLine(String(encoded.left))}` })
          else write(socket, { id, exit: encoded.right })
        })
      )
    }

    const onConnection = (socket: net.Socket) => {
      sockets.add(socket)
      socket.setEncoding("utf8")
      const connection: Connection<Ev> = { id: nextId++, send: (event) => write(socket, { ev: encodeEvent(event) }) }
      const feed = lineSplitter((line) => {
        const frame = decodeClientFrame(line)
        if (frame._tag === "Left") {
          write(socket, { id: -1, bad: `not a request frame: ${oneLine(frame.left)}` })
          return
        }
        const request = decodeRequest(frame.right.req)
        if (request._tag === "Left") {
          write(socket, { id: frame.right.id, bad: oneLine(request.left.message) })
          return
        }
        answer(socket, frame.right.id, request.right)
      }, maxFrame)
      socket.on("error", () => socket.destroy())
      socket.on("close", () => sockets.delete(socket))
      const start = () =>
        socket.on("data", (chunk: string) => {
          if (!feed(chunk)) socket.destroy()
        })
      if (options.onConnect === undefined) start()
      else runFork(Effect.ensuring(options.onConnect(connection), Effect.sync(start)) as Effect.Effect<void, never, R>)
    }

    const server = net.createServer({ allowHalfOpen: false }, onConnection)
    server.on("error", () => undefined)

    const takeOver = Effect.gen(function* () {
      if (yield* dial(options.socketPath, 500)) {
        return yield* new IpcServeError({ message: `another server is already listening on ${options.socketPath}` })
      }
      yield* Effect.promise(() => fs.rm(options.socketPath, { force: true }))
      yield* listen(server, options.socketPath).pipe(
        Effect.mapError((e) => new IpcServeError({ message: `cannot listen on ${options.socketPath}: ${errorText(e)}` }))
      )
    })

    yield* Effect.acquireRelease(
      listen(server, options.socketPath).pipe(
        Effect.catchAll((error) =>
          error.code === "EADDRINUSE"
            ? takeOver
            : Effect.fail(new IpcServeError({ message: `cannot listen on ${options.socketPath}: ${errorText(error)}` }))
        )
      ),
      () =>
        Effect.async<void>((resume) => {
          for (const socket of sockets) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )

    return {
      publish: (event: Ev) => {
        if (sockets.size === 0) return
        const line = { ev: encodeEvent(event) }
        for (const socket of sockets) write(socket, line)
      },
      connections: () => sockets.size
    }
  })
