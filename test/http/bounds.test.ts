/**
 * The server's bounds: beyond the open-stream limit a new event stream is
 * refused at once with 503 and a message, while ordinary requests are still
 * answered; a slot freed by a client that leaves is usable again.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { eventually, openSse, send, serverLayer, signIn, TestServer } from "./support.ts"

layer(serverLayer({ maxStreams: 2, maxInFlight: 64 }), { excludeTestServices: true })("bounded concurrency", (it) => {
  it.effect("a third live stream is refused with 503 while two are open; reads still answer; a freed slot is reused", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      const viewer = yield* signIn("viewer")
      const a = yield* Effect.promise(() => openSse(base, "/api/events", viewer.cookie))
      const b = yield* Effect.promise(() => openSse(base, "/api/events", viewer.cookie))
      yield* Effect.promise(() => Promise.all([a.connected(), b.connected()]))

      const third = yield* send(base, "GET", "/api/events", { cookie: viewer.cookie, headers: { accept: "text/event-stream" } })
      expect(third.status).toBe(503)
      expect(third.body).toEqual({
        _tag: "Unavailable",
        message: "the dashboard server has 2 live streams open, its limit; try again shortly"
      })
      expect(third.headers.get("retry-after")).toBe("1")

      const jobs = yield* viewer.get("/api/jobs")
      expect(jobs.status).toBe(200)

      a.close()
      const c = yield* eventually(
        Effect.promise(async () => {
          const s = await openSse(base, "/api/events", viewer.cookie)
          if (s.status === 200) return s
          s.close()
          return undefined
        }),
        (s) => s
      )
      yield* Effect.promise(() => c.connected())
      b.close()
      c.close()
    })
  )
})
