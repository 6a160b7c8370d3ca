/**
 * The generic IPC protocol over a real Unix socket: typed answers and
 * failures, one-line refusals of bad frames, pushed events, redial after the
 * server restarts, a stale socket file taken over, a live one refused.
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdtempSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Duration, Effect, Exit, Ref, Schema, Scope } from "effect"
import { connect, IpcUnavailable } from "../../kernel/ipc/client.ts"
import { defineProtocol } from "../../kernel/ipc/protocol.ts"
import { serve, type Connection } from "../../kernel/ipc/server.ts"

class Refused extends Schema.TaggedError<Refused>()("Refused", { reason: Schema.String }) {}
class Double extends Schema.TaggedRequest<Double>()("Double", {
  payload: { n: Schema.Number },
  success: Schema.Number,
  failure: Refused
}) {}
class Shout extends Schema.TaggedRequest<Shout>()("Shout", {
  payload: { text: Schema.String },
  success: Schema.Void,
  failure: Schema.Never
}) {}
const Tick = Schema.Struct({ tick: Schema.Number })
const Test = defineProtocol(Schema.Union(Double, Shout), Tick)

const socketIn = () => join(mkdtempSync(join(tmpdir(), "lomi-ipc-")), "t.sock")

const server = (socketPath: string, onConnectTick?: number) =>
  serve({
    socketPath,
    protocol: Test,
    handlers: {
      Double: (r) => (r.n < 0 ? Effect.fail(new Refused({ reason: "negative" })) : Effect.succeed(r.n * 2)),
      Shout: () => Effect.void
    },
    ...(onConnectTick === undefined ? {} : { onConnect: (c: Connection<typeof Tick.Type>) => Effect.sync(() => c.send({ tick: onConnectTick })) })
  })

const waitFor = <A>(read: Effect.Effect<A>, ok: (a: A) => boolean, what: string) =>
  Effect.gen(function* () {
    const deadline = Date.now() + 10_000
    while (true) {
      const value = yield* read
      if (ok(value)) return value
      if (Date.now() > deadline) return yield* Effect.dieMessage(`timed out waiting for ${what}; last ${JSON.stringify(value)}`)
      yield* Effect.sleep(Duration.millis(20))
    }
  })

/** Writes raw lines on a fresh connection and collects the answer lines. */
const rawExchange = (socketPath: string, lines: string, expected: number) =>
  Effect.async<ReadonlyArray<string>>((resume) => {
    const socket = net.createConnection({ path: socketPath })
    let got = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => {
      got += chunk
      const answers = got.split("\n").filter((l) => l !== "")
      if (answers.length >= expected) {
        socket.destroy()
        resume(Effect.succeed(answers))
      }
    })
    socket.on("connect", () => socket.write(lines))
  })

describe("ipc", () => {
  it.live("answers typed successes and failures, and pushes events", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const socketPath = socketIn()
        const srv = yield* server(socketPath)
        const events = yield* Ref.make<ReadonlyArray<number>>([])
        const client = yield* connect({
          socketPath,
          protocol: Test,
          onEvent: (e) => Ref.update(events, (all) => [...all, e.tick])
        })
        yield* client.awaitConnected("5 seconds")
        expect(yield* client.call(new Double({ n: 21 }))).toBe(42)
        const failed = yield* Effect.flip(client.call(new Double({ n: -1 })))
        expect(failed).toEqual(new Refused({ reason: "negative" }))
        yield* client.call(new Shout({ text: "hi" }))
        for (const tick of [1, 2, 3]) srv.publish({ tick })
        expect(yield* waitFor(Ref.get(events), (e) => e.length === 3, "three events")).toEqual([1, 2, 3])
      })
    )
  )

  it.live("refuses a malformed frame or request with a one-line reason and keeps serving", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const socketPath = socketIn()
        yield* server(socketPath)
        const answers = yield* rawExchange(
          socketPath,
          'not json\n{"id":7,"req":{"_tag":"Double","n":"x"}}\n{"id":8,"req":{"_tag":"Double","n":2}}\n',
          3
        )
        const parsed = answers.map((l) => JSON.parse(l) as { id: number; bad?: string; exit?: unknown })
        expect(parsed[0]?.id).toBe(-1)
        expect(parsed[0]?.bad).toMatch(/^not a request frame/)
        const seven = parsed.find((p) => p.id === 7)
        expect(seven?.bad).toContain("n")
        expect(seven?.bad).not.toContain("\n")
        expect(parsed.find((p) => p.id === 8)?.exit).toEqual({ _tag: "Success", value: 4 })
      })
    )
  )

  it.live("fails a call the server never answers once its timeout has passed, and still answers the next", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const socketPath = socketIn()
        const silent = net.createServer((socket) => {
          socket.setEncoding("utf8")
          // Answers a Double of 0 and nothing else.
          socket.on("data", (chunk: string) => {
            for (const line of chunk.split("\n").filter((l) => l !== "")) {
              const frame = JSON.parse(line) as { id: number; req: { n: number } }
              if (frame.req.n === 0) socket.write(`${JSON.stringify({ id: frame.id, exit: { _tag: "Success", value: 0 } })}\n`)
            }
          })
        })
        yield* Effect.acquireRelease(
          Effect.async<void, never, never>((resume) => {
            silent.listen(socketPath, () => resume(Effect.void))
          }),
          () => Effect.sync(() => silent.close())
        )
        const client = yield* connect({ socketPath, protocol: Test, onEvent: () => Effect.void })
        yield* client.awaitConnected("5 seconds")
        const unanswered = yield* Effect.flip(client.call(new Double({ n: 1 }), "300 millis"))
        expect(unanswered).toBeInstanceOf(IpcUnavailable)
        expect(unanswered.message).toContain("no answer from")
        expect(unanswered.message).toContain("within 300ms")
        expect(yield* client.call(new Double({ n: 0 }), "5 seconds")).toBe(0)
      })
    )
  )

  it.live("fails calls while the server is gone, redials it, and re-runs onConnect", () =>
    Effect.gen(function* () {
      const socketPath = socketIn()
      const outer = yield* Scope.make()
      const connects = yield* Ref.make(0)
      const client = yield* connect({
        socketPath,
        protocol: Test,
        onConnect: Ref.update(connects, (n) => n + 1),
        dialTimeout: "200 millis",
        callTimeout: "2 seconds"
      }).pipe(Scope.extend(outer))
      const first = yield* Scope.make()
      yield* server(socketPath).pipe(Scope.extend(first))
      yield* client.awaitConnected("10 seconds")
      expect(yield* client.call(new Double({ n: 1 }))).toBe(2)
      yield* Scope.close(first, Exit.void)
      yield* waitFor(client.isConnected, (c) => !c, "disconnect")
      const down = yield* Effect.flip(client.call(new Double({ n: 1 })))
      expect(down).toBeInstanceOf(IpcUnavailable)
      const second = yield* Scope.make()
      yield* server(socketPath).pipe(Scope.extend(second))
      yield* client.awaitConnected("10 seconds")
      expect(yield* client.call(new Double({ n: 5 }))).toBe(10)
      expect(yield* Ref.get(connects)).toBe(2)
      yield* Scope.close(second, Exit.void)
      yield* Scope.close(outer, Exit.void)
    })
  )

  it.live("takes over a stale socket file and refuses to share a live one", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const socketPath = socketIn()
        writeFileSync(socketPath, "")
        yield* server(socketPath, 9)
        const second = yield* Effect.flip(server(socketPath))
        expect(second.message).toBe(`another server is already listening on ${socketPath}`)
        const ticks = yield* Ref.make<ReadonlyArray<number>>([])
        const client = yield* connect({ socketPath, protocol: Test, onEvent: (e) => Ref.update(ticks, (t) => [...t, e.tick]) })
        yield* client.awaitConnected("5 seconds")
        expect(yield* waitFor(Ref.get(ticks), (t) => t.length === 1, "snapshot event")).toEqual([9])
      })
    )
  )
})
