/** Live updates: the AllocatorEvent stream and a run's log tail, as Server-Sent Events. */
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { runLogFile } from "../../kernel/paths.ts"
import { arrive, exitAfter, hang, lastOf, openSse, serverLayer, signIn, TestServer, waitRuns } from "./support.ts"

const json = (data: string) => JSON.parse(data) as Record<string, unknown>

layer(serverLayer(), { excludeTestServices: true })("server-sent events", (it) => {
  it.effect("the event stream needs a session but no CSRF token", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      const anonymous = yield* Effect.promise(() => openSse(base, "/api/events", undefined))
      expect(anonymous.status).toBe(401)
      anonymous.close()
      const viewer = yield* signIn("viewer")
      const stream = yield* Effect.promise(() => openSse(base, "/api/events", viewer.cookie))
      expect(stream.status).toBe(200)
      expect(stream.contentType).toMatch(/^text\/event-stream/)
      stream.close()
    })
  )

  it.effect("a client sees a document arrive, run and succeed", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      const viewer = yield* signIn("viewer")
      const a = yield* Effect.promise(() => openSse(base, "/api/events", viewer.cookie))
      const b = yield* Effect.promise(() => openSse(base, "/api/events", viewer.cookie))
      yield* Effect.promise(() => Promise.all([a.connected(), b.connected()]))
      yield* arrive("sse-1", "Epi-Insight", "P300", [exitAfter(0)])
      for (const stream of [a, b]) {
        const insert = yield* Effect.promise(() => stream.next((f) => json(f.data)._tag === "insert"))
        expect(json(insert.data)).toMatchObject({ _tag: "insert", doc: "sse-1", attempt: 1, state: "queued" })
        const done = yield* Effect.promise(() =>
          stream.next((f) => {
            const e = json(f.data)
            return e._tag === "transition" && e.doc === "sse-1" && e.to === "succeeded"
          })
        )
        expect(json(done.data)).toMatchObject({ from: "running", to: "succeeded" })
        expect(typeof json(done.data).at).toBe("string")
      }
      a.close()
      // The other client keeps receiving after one leaves.
      const operator = yield* signIn("operator")
      yield* operator.post("/api/docs/sse-1/retry")
      const command = yield* Effect.promise(() => b.next((f) => json(f.data)._tag === "command"))
      expect(json(command.data)).toMatchObject({ _tag: "command", name: "retry", ok: false })
      b.close()
    })
  )

  it.effect("signing out ends the event streams opened with that session, not another session's", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      const leaving = yield* signIn("viewer")
      const staying = yield* signIn("viewer")
      const a = yield* Effect.promise(() => openSse(base, "/api/events", leaving.cookie))
      const b = yield* Effect.promise(() => openSse(base, "/api/events", staying.cookie))
      yield* Effect.promise(() => Promise.all([a.connected(), b.connected()]))
      const out = yield* leaving.del("/api/session")
      expect(out.status).toBeLessThan(300)
      yield* Effect.promise(() => a.ended())
      yield* arrive("sse-signout", "Epi-Insight", "P303", [exitAfter(0)])
      const insert = yield* Effect.promise(() => b.next((f) => json(f.data)._tag === "insert"))
      expect(json(insert.data)).toMatchObject({ _tag: "insert", doc: "sse-signout", state: "queued" })
      b.close()
    })
  )

  it.effect("a run's log streams line by line and ends when the run does", () =>
    Effect.gen(function* () {
      const { base, config } = yield* TestServer
      const operator = yield* signIn("operator")
      yield* arrive("sse-log", "Omni-Health", "P301", [hang])
      const runs = yield* waitRuns(operator, "sse-log", (r) => lastOf(r)?.state === "running")
      const run = lastOf(runs)
      const file = runLogFile(config.dataDir, "sse-log", run?.id ?? 0, run?.attempt ?? 0)
      mkdirSync(dirname(file), { recursive: true })
      writeFileSync(file, "starting\n")
      const stream = yield* Effect.promise(() => openSse(base, `/api/runs/${run?.id ?? 0}/log/stream`, operator.cookie))
      expect(stream.status).toBe(200)
      const first = yield* Effect.promise(() => stream.next(() => true))
      expect(JSON.parse(first.data)).toBe("starting")
      appendFileSync(file, "step 1 done\nstep 2 ")
      const second = yield* Effect.promise(() => stream.next(() => true))
      expect(JSON.parse(second.data)).toBe("step 1 done")
      appendFileSync(file, "done\n")
      const third = yield* Effect.promise(() => stream.next(() => true))
      expect(JSON.parse(third.data)).toBe("step 2 done")
      const kill = yield* operator.post(`/api/runs/${run?.id ?? 0}/kill`)
      expect((kill.body as { ok: boolean }).ok).toBe(true)
      const end = yield* Effect.promise(() => stream.next((f) => f.event === "end", 8000))
      expect(json(end.data)).toEqual({ run: run?.id, state: "failed_permanent" })
      yield* Effect.promise(() => stream.ended())
    })
  )

  it.effect("the log of a finished run is sent whole, then the stream ends", () =>
    Effect.gen(function* () {
      const { base, config } = yield* TestServer
      const viewer = yield* signIn("viewer")
      yield* arrive("sse-done", "Epi-Insight", "P302", [exitAfter(0)])
      const runs = yield* waitRuns(viewer, "sse-done", (r) => lastOf(r)?.state === "succeeded")
      const run = lastOf(runs)
      const file = runLogFile(config.dataDir, "sse-done", run?.id ?? 0, run?.attempt ?? 0)
      mkdirSync(dirname(file), { recursive: true })
      writeFileSync(file, "a\nb\nlast line without newline")
      const stream = yield* Effect.promise(() => openSse(base, `/api/runs/${run?.id ?? 0}/log/stream`, viewer.cookie))
      yield* Effect.promise(() => stream.ended())
      expect(stream.frames().map((f) => [f.event, f.data])).toEqual([
        ["message", '"a"'],
        ["message", '"b"'],
        ["message", '"last line without newline"'],
        ["end", JSON.stringify({ run: run?.id, state: "succeeded" })]
      ])
    })
  )
})
