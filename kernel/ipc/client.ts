/**
 * The calling side of an IPC protocol (see `protocol.ts`). One connection,
 * redialled for as long as the scope lives:
 *
 *   dial (short timeout) ── fails ──▶ wait (100 ms doubling to 2 s) ──▶ dial
 *     │ ok
 *   onConnect (re-synchronise) ──▶ serve calls and events ── closed ──▶ fail pending calls ──▶ dial
 *
 * A call made while no connection is up fails at once with `IpcUnavailable`
 * (callers decide whether to wait with `awaitConnected`); a call with no
 * answer within its timeout fails the same way. Events are handed to
 * `onEvent` one at a time, in order.
 *
 * Call timeouts are kept as deadlines beside the pending calls and swept
 * every 100 ms by one fiber: a timeout raced per call forked a fiber and
 * armed a timer for every Start and Acknowledge of every job.
 */
import type * as net from "node:net"
import { Data, Deferred, Duration, Effect, Exit, Fiber, Option, Queue, Ref, Schema, type Scope } from "effect"
import { openSocket } from "./dial.ts"
import { answerCodecs, corkForTick, decodeServerFrame, defaultMaxFrameBytes, lineSplitter, oneLine, type Protocol } from "./protocol.ts"

export class IpcUnavailable extends Data.TaggedError("IpcUnavailable")<{ readonly message: string }> {}

export interface IpcClient<Req extends Schema.TaggedRequest.All> {
  readonly call: <R extends Req>(
    request: R,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<Schema.WithResult.Success<R>, Schema.WithResult.Failure<R> | IpcUnavailable>
  readonly isConnected: Effect.Effect<boolean>
  /** Waits until a connection is up (and its `onConnect` has run), or fails after `timeout`. */
  readonly awaitConnected: (timeout: Duration.DurationInput) => Effect.Effect<void, IpcUnavailable>
}

export interface ConnectOptions<Req extends Schema.TaggedRequest.All, ReqI, Ev, EvI, R> {
  readonly socketPath: string
  readonly protocol: Protocol<Req, ReqI, Ev, EvI>
  readonly onEvent?: (event: Ev) => Effect.Effect<void, never, R>
  /** Runs after every successful dial, before `awaitConnected` returns. */
  readonly onConnect?: Effect.Effect<void, never, R>
  readonly dialTimeout?: Duration.DurationInput
  readonly callTimeout?: Duration.DurationInput
  readonly maxFrameBytes?: number
}

type Answer = { readonly exit: unknown } | { readonly bad: string }

interface PendingCall {
  readonly deadline: number
  readonly limit: Duration.Duration
  readonly settle: (outcome: Effect.Effect<Answer, IpcUnavailable>) => void
}

const SWEEP_EVERY = Duration.millis(100)
const REDIAL_FIRST_MS = 25
const REDIAL_MAX_MS = 200

/** Events queued beyond this pause the socket until the consumer catches up. */
const eventHighWater = 1024

export const connect = <Req extends Schema.TaggedRequest.All, ReqI, Ev, EvI, R>(
  options: ConnectOptions<Req, ReqI, Ev, EvI, R>
): Effect.Effect<IpcClient<Req>, never, R | Scope.Scope> =>
  Effect.gen(function* () {
    const dialMs = Duration.toMillis(Duration.decode(options.dialTimeout ?? Duration.millis(500)))
    const callTimeout = Duration.decode(options.callTimeout ?? Duration.seconds(10))
    const answers = answerCodecs()
    const decodeEvent = Schema.decodeUnknownEither(options.protocol.events)
    const encodeRequest = Schema.encodeEither(options.protocol.requests)
    const events = yield* Queue.unbounded<Ev>()
    const pending = new Map<number, PendingCall>()
    const clock = yield* Effect.clock
    let current: net.Socket | undefined
    let nextId = 1
    const connected = yield* Ref.make(yield* Deferred.make<void>())

    // Events in order, one at a time; the socket resumes once the backlog is short.
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.gen(function* () {
          const event = yield* Queue.take(events)
          if (options.onEvent !== undefined) yield* options.onEvent(event)
          if (current?.isPaused() === true && (yield* Queue.size(events)) < eventHighWater / 2) current.resume()
        })
      )
    )

    const failPending = () => {
      const waiting = [...pending.values()]
      pending.clear()
      const closed = Effect.fail(new IpcUnavailable({ message: `connection to ${options.socketPath} closed` }))
      for (const call of waiting) call.settle(closed)
    }

    const failOverdue = Effect.sync(() => {
      const now = clock.unsafeCurrentTimeMillis()
      for (const [id, call] of pending) {
        if (call.deadline > now) continue
        pending.delete(id)
        call.settle(Effect.fail(new IpcUnavailable({ message: `no answer from ${options.socketPath} within ${Duration.format(call.limit)}` })))
      }
    })
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(SWEEP_EVERY), failOverdue)))

    const onFrame = (socket: net.Socket) => (line: string) => {
      const frame = decodeServerFrame(line)
      if (frame._tag === "Left") return
      const value = frame.right
      if ("ev" in value) {
        const event = decodeEvent(value.ev)
        if (event._tag === "Right") {
          Queue.unsafeOffer(events, event.right)
          if (Option.getOrElse(events.unsafeSize(), () => 0) > eventHighWater) socket.pause()
        }
        return
      }
      const call = pending.get(value.id)
      if (call === undefined) return
      pending.delete(value.id)
      call.settle(Effect.succeed("exit" in value ? { exit: value.exit } : { bad: value.bad }))
    }

    const session = (socket: net.Socket) =>
      Effect.gen(function* () {
        socket.setEncoding("utf8")
        const closed = yield* Deferred.make<void>()
        const feed = lineSplitter(onFrame(socket), options.maxFrameBytes ?? defaultMaxFrameBytes)
        socket.on("data", (chunk: string) => {
          if (!feed(chunk)) socket.destroy()
        })
        socket.on("error", () => socket.destroy())
        socket.on("close", () => {
          if (current === socket) current = undefined
          failPending()
          Deferred.unsafeDone(closed, Exit.void)
        })
        current = socket
        if (options.onConnect !== undefined) yield* options.onConnect
        yield* Deferred.succeed(yield* Ref.get(connected), undefined)
        yield* Deferred.await(closed)
        yield* Ref.set(connected, yield* Deferred.make<void>())
      })

    // A refused dial of a local socket costs microseconds, and every process of a `make run` dials another
    // that is still starting: a redial backoff that grew to 2 s kept /readyz waiting up to 2 s after the
    // kernel's socket was up (1.1-2.1 s on a loaded machine). Redials stay at most REDIAL_MAX_MS apart.
    const loop = Effect.gen(function* () {
      let delay = REDIAL_FIRST_MS
      while (true) {
        const socket = yield* Effect.either(openSocket(options.socketPath, dialMs))
        if (socket._tag === "Right") {
          delay = REDIAL_FIRST_MS
          yield* Effect.onInterrupt(session(socket.right), () => Effect.sync(() => socket.right.destroy()))
        } else {
          yield* Effect.sleep(Duration.millis(delay))
          delay = Math.min(REDIAL_MAX_MS, delay * 2)
        }
      }
    })
    const fiber = yield* Effect.forkScoped(loop)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        current?.destroy()
        failPending()
      }).pipe(Effect.zipRight(Fiber.interrupt(fiber)))
    )

    const send = (id: number, encoded: unknown, limit: Duration.Duration) =>
      Effect.async<Answer, IpcUnavailable>((resume) => {
        const socket = current
        if (socket === undefined) {
          resume(Effect.fail(new IpcUnavailable({ message: `not connected to ${options.socketPath}` })))
          return
        }
        pending.set(id, {
          deadline: clock.unsafeCurrentTimeMillis() + Duration.toMillis(limit),
          limit,
          settle: resume
        })
        corkForTick(socket)
        socket.write(`${JSON.stringify({ id, req: encoded })}\n`)
        return Effect.sync(() => {
          pending.delete(id)
        })
      })

    const call = <Q extends Req>(request: Q, timeout?: Duration.DurationInput) =>
      Effect.gen(function* () {
        const encoded = yield* Effect.orDie(encodeRequest(request))
        const id = nextId++
        const limit = timeout === undefined ? callTimeout : Duration.decode(timeout)
        const answer = yield* send(id, encoded, limit)
        if ("bad" in answer) return yield* Effect.dieMessage(`request refused by the server: ${answer.bad}`)
        const exit = answers.decode(request)(answer.exit)
        if (exit._tag === "Left") return yield* new IpcUnavailable({ message: `undecodable answer: ${oneLine(exit.left.message)}` })
        return yield* exit.right
      })

    return {
      call,
      isConnected: Effect.sync(() => current !== undefined),
      awaitConnected: (timeout) =>
        Effect.flatMap(Ref.get(connected), Deferred.await).pipe(
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: () => new IpcUnavailable({ message: `no server on ${options.socketPath}` })
          })
        )
    }
  })
