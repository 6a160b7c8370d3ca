/**
 * The /api/events fan-out (kernel/http/sseHub.ts): every open stream gets
 * the preamble, then every event as one `data:` line; a client that stops
 * reading is dropped once it is MAX_BACKLOG_BYTES behind while the others
 * keep receiving; a stream ends when its session does, and a client that
 * leaves is forgotten.
 */
import type { Readable } from "node:stream"
import { expect, it } from "@effect/vitest"
import type { HttpServerResponse } from "@effect/platform"
import { Deferred, Effect } from "effect"
import type { EventInput } from "../../schemas/events.ts"
import { EventBus } from "../../kernel/events.ts"
import { MAX_BACKLOG_BYTES, makeSseHub } from "../../kernel/http/sseHub.ts"

const bodyOf = (response: HttpServerResponse.HttpServerResponse): Readable => {
  const body = response.body
  if (body._tag !== "Raw") throw new Error(`expected a raw body, got ${body._tag}`)
  return body.body as Readable
}

/** Everything a stream has delivered so far (it is read as it arrives). */
const collect = (stream: Readable) => {
  let text = ""
  let ended = false
  stream.on("data", (d: Buffer) => (text += d.toString("utf8")))
  stream.on("end", () => (ended = true))
  return { text: () => text, ended: () => ended }
}

const until = <A>(what: string, probe: () => A | undefined, deadlineMs = 10_000) =>
  Effect.promise(async () => {
    const ends = Date.now() + deadlineMs
    for (;;) {
      const value = probe()
      if (value !== undefined) return value
      if (Date.now() > ends) throw new Error(`timed out waiting for ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })

const insert = (doc: string, run: number): EventInput => ({ _tag: "insert", run, doc, attempt: 1, state: "queued" })

const provided = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, EventBus.Default)

it.scoped("two clients get the preamble, then each event as one data line, in order", () =>
  provided(
    Effect.gen(function* () {
      const bus = yield* EventBus
      const hub = yield* makeSseHub
      const a = collect(bodyOf(yield* hub.open(Effect.never)))
      const b = collect(bodyOf(yield* hub.open(Effect.never)))
      expect(hub.size()).toBe(2)
      yield* bus.publish(insert("hub-1", 1))
      yield* bus.publish(insert("hub-2", 2))
      for (const client of [a, b]) {
        const text = yield* until("two events", () => ((client.text().match(/^data: /gm) ?? []).length >= 2 ? client.text() : undefined))
        expect(text.startsWith("retry: 3000\n: connected\n\n")).toBe(true)
        const data = text
          .split("\n")
          .filter((l) => l.startsWith("data: "))
          .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>)
        expect(data.map((e) => [e._tag, e.doc, e.run])).toEqual([
          ["insert", "hub-1", 1],
          ["insert", "hub-2", 2]
        ])
        expect(typeof data[0]?.at).toBe("string")
      }
    })
  )
)

it.scoped("a client that stops reading is dropped past its backlog bound; a reading one keeps receiving", () =>
  provided(
    Effect.gen(function* () {
      const bus = yield* EventBus
      const hub = yield* makeSseHub
      const stuck = bodyOf(yield* hub.open(Effect.never)) // never read
      let stuckClosed = false
      stuck.on("close", () => (stuckClosed = true))
      const reader = collect(bodyOf(yield* hub.open(Effect.never)))
      // Each event is about 100 bytes framed: enough of them to pass the bound twice over, in
      // bursts of 100 with a turn of the event loop between them (when a reader reads).
      const count = Math.ceil((2 * MAX_BACKLOG_BYTES) / 100)
      for (let i = 0; i < count; i++) {
        yield* bus.publish(insert(`hub-slow-${i}`, i))
        if (i % 100 === 99) yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
      }
      yield* until("the stuck client to be dropped", () => (stuckClosed ? true : undefined))
      expect(hub.size()).toBe(1)
      const last = `"doc":"hub-slow-${count - 1}"`
      yield* until("the reading client to get the last event", () => (reader.text().includes(last) ? true : undefined))
      expect((reader.text().match(/^data: /gm) ?? []).length).toBe(count)
    })
  )
)

it.scoped("a stream ends when its session does; a client that leaves is forgotten", () =>
  provided(
    Effect.gen(function* () {
      const hub = yield* makeSseHub
      const session = yield* Deferred.make<void>()
      const ending = collect(bodyOf(yield* hub.open(Deferred.await(session))))
      const leaving = bodyOf(yield* hub.open(Effect.never))
      leaving.resume()
      expect(hub.size()).toBe(2)
      yield* Deferred.succeed(session, undefined)
      yield* until("the stream to end with its session", () => (ending.ended() ? true : undefined))
      expect(ending.text()).toBe("retry: 3000\n: connected\n\n")
      leaving.destroy()
      yield* until("the hub to forget both", () => (hub.size() === 0 ? true : undefined))
    })
  )
)
