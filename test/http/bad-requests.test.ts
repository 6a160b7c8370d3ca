/**
 * Bad requests are turned away with a 4xx and a message a person can act
 * on, before anything reaches the command bus: the audit log stays empty
 * and no tunable changes.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { anonymous, type Client, rawRequest, type Reply, send, serverLayer, signIn, TestServer } from "./support.ts"

const messageOf = (reply: Reply) => (reply.body as { message?: string } | undefined)?.message ?? ""

/** Runs `body` and checks that the audit log did not grow. */
const nothingAudited = <A>(admin: Client, body: Effect.Effect<A>) =>
  Effect.gen(function* () {
    const before = ((yield* admin.get("/api/commands")).body as { items: ReadonlyArray<unknown> }).items.length
    const result = yield* body
    const after = ((yield* admin.get("/api/commands")).body as { items: ReadonlyArray<unknown> }).items.length
    expect(after).toBe(before)
    return result
  })

layer(serverLayer(), { excludeTestServices: true })("bad requests", (it) => {
  it.effect("malformed JSON is 400 with the parser's complaint", () =>
    Effect.gen(function* () {
      const operator = yield* signIn("operator")
      const admin = yield* signIn("admin")
      const reply = yield* nothingAudited(admin, operator.post("/api/manual-add", undefined, { raw: '{"docs": ["a",' }))
      expect(reply.status).toBe(400)
      expect(reply.body).toMatchObject({ _tag: "BadRequest" })
      expect(messageOf(reply)).toMatch(/^malformed JSON body/)
    })
  )

  it.effect("wrong types and missing fields are 400 naming the field", () =>
    Effect.gen(function* () {
      const operator = yield* signIn("operator")
      const admin = yield* signIn("admin")
      const wrongType = yield* nothingAudited(admin, operator.post("/api/manual-add/validate", { doc: 5 }))
      expect(wrongType.status).toBe(400)
      expect(messageOf(wrongType)).toMatch(/doc/)
      const missing = yield* nothingAudited(admin, operator.post("/api/holds/release", {}))
      expect(missing.status).toBe(400)
      expect(messageOf(missing)).toMatch(/docs/)
      const empty = yield* nothingAudited(admin, operator.post("/api/holds/cancel", { docs: [] }))
      expect(empty.status).toBe(400)
      const notAnObject = yield* nothingAudited(admin, operator.post("/api/manual-add", ["x"]))
      expect(notAnObject.status).toBe(400)
    })
  )

  it.effect("tunables: a string, a fraction, out of range, an unknown key: all refused, nothing stored", () =>
    Effect.gen(function* () {
      const admin = yield* signIn("admin")
      const cases: ReadonlyArray<readonly [unknown, RegExp]> = [
        [{ MAX_RETRIES: "3" }, /Expected number/],
        [{ MAX_RETRIES: 2.5 }, /MAX_RETRIES must be an integer/],
        [{ MAX_RETRIES: 0 }, /MAX_RETRIES must be between 1 and 100/],
        [{ NOT_A_TUNABLE: 1 }, /unknown tunable "NOT_A_TUNABLE"/],
        // One bad key refuses the whole request: the good one is not stored either.
        [{ RETRY_DELAY_SECONDS: 60, MAX_WORKERS: 65 }, /MAX_WORKERS must be between 1 and 64/],
        [{}, /at least one tunable/]
      ]
      for (const [values, pattern] of cases) {
        const reply = yield* nothingAudited(admin, admin.put("/api/tunables", { values }))
        expect(reply.status, JSON.stringify(values)).toBe(400)
        expect(messageOf(reply), JSON.stringify(values)).toMatch(pattern)
      }
      const list = (yield* admin.get("/api/tunables")).body as {
        items: ReadonlyArray<{ key: string; current: number; default: number; updatedAt: string | null }>
      }
      for (const t of list.items) {
        expect(t.current).toBe(t.default)
        expect(t.updatedAt).toBeNull()
      }
    })
  )

  it.effect("an oversized body is 413, with or without a content-length", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      const operator = yield* signIn("operator")
      const admin = yield* signIn("admin")
      const big = JSON.stringify({ docs: Array.from({ length: 8000 }, (_, i) => `doc-${i}-padding`) })
      const declared = yield* nothingAudited(admin, operator.post("/api/manual-add", undefined, { raw: big }))
      expect(declared.status).toBe(413)
      expect(messageOf(declared)).toMatch(/limit/)
      const chunked = yield* nothingAudited(
        admin,
        Effect.promise(async () => {
          const encoder = new TextEncoder()
          const stream = new ReadableStream<Uint8Array>({
            start(controller) {
              for (let i = 0; i < 20; i++) controller.enqueue(encoder.encode(big.slice(i * 10000, (i + 1) * 10000)))
              controller.close()
            }
          })
          const init: RequestInit & { duplex: "half" } = {
            method: "POST",
            headers: {
              "content-type": "application/json",
              cookie: `lomi_session=${operator.cookie}`,
              "x-csrf-token": operator.csrf
            },
            body: stream,
            duplex: "half"
          }
          // The server drains what is still coming and answers 413: a client still uploading sees the answer, not a reset.
          return fetch(`${base}/api/manual-add`, init).then(
            (response) => response.status,
            () => "reset"
          )
        })
      )
      expect(chunked).toBe(413)
    })
  )

  it.effect("ids that could leave their directory are 400", () =>
    Effect.gen(function* () {
      const operator = yield* signIn("operator")
      const admin = yield* signIn("admin")
      for (const doc of ["..%2F..%2Fetc%2Fpasswd", "a%2Fb", ".hidden", "a..b", "%00x"]) {
        const drawer = yield* operator.get(`/api/docs/${doc}`)
        expect(drawer.status, doc).toBe(400)
        expect(messageOf(drawer), doc).toMatch(doc.includes("%00") ? /^the path contains a NUL character$/ : /is not a valid document id/)
        const retry = yield* nothingAudited(admin, operator.post(`/api/docs/${doc}/retry`))
        expect(retry.status, doc).toBe(400)
      }
      // Sent byte for byte: fetch would resolve these dot segments itself.
      const { base } = yield* TestServer
      for (const path of ["/api/docs/%2E%2E", "/api/docs/..", "/api/docs/%2e%2e/retry"]) {
        const raw = yield* rawRequest(base, path.endsWith("retry") ? "POST" : "GET", path, {
          cookie: `lomi_session=${operator.cookie}`,
          "x-csrf-token": operator.csrf
        })
        expect(raw.status, path).toBe(400)
        expect(raw.body, path).toMatch(/is not a valid document id/)
      }
      const bulk = yield* nothingAudited(admin, operator.post("/api/holds/release", { docs: ["ok-doc", "../../etc"] }))
      expect(bulk.status).toBe(400)
      expect(messageOf(bulk)).toMatch(/"\.\.\/\.\.\/etc" is not a valid document id/)
    })
  )

  it.effect("run ids must be positive integers", () =>
    Effect.gen(function* () {
      const operator = yield* signIn("operator")
      for (const run of ["abc", "-1", "0", "1.5", "1e400"]) {
        const reply = yield* operator.post(`/api/runs/${run}/kill`)
        expect(reply.status, run).toBe(400)
        expect(messageOf(reply), run).not.toBe("")
      }
    })
  )

  it.effect("unknown ids are 404", () =>
    Effect.gen(function* () {
      const operator = yield* signIn("operator")
      const admin = yield* signIn("admin")
      const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
        ["GET", "/api/runs/424242/log", /no run 424242/],
        ["GET", "/api/runs/424242/log/stream", /no run 424242/],
        ["GET", "/api/docs/never-seen", /no runs, holds or Firestore report for never-seen/],
        ["POST", "/api/runs/424242/kill", /no run 424242/],
        ["POST", "/api/runs/424242/skip", /no run 424242/],
        ["POST", "/api/docs/never-seen/retry", /does not exist in Firestore/],
        ["POST", "/api/docs/never-seen/reset-data-ready", /does not exist in Firestore/],
        ["POST", "/api/docs/never-seen/regenerate-ocr", /no runs for document never-seen/],
        ["POST", "/api/holds/never-seen/release", /no manual hold for never-seen/],
        ["POST", "/api/holds/never-seen/cancel", /no manual hold for never-seen/]
      ]
      for (const [method, path, pattern] of cases) {
        const reply = yield* nothingAudited(admin, operator.send(method, path))
        expect(reply.status, path).toBe(404)
        expect(reply.body, path).toMatchObject({ _tag: "NotFound" })
        expect(messageOf(reply), path).toMatch(pattern)
      }
      const mark = yield* admin.post("/api/docs/never-seen/mark-failed-for-retry")
      expect(mark.status).toBe(404)
    })
  )

  it.effect("query parameters are checked", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const cases: ReadonlyArray<readonly [string, RegExp]> = [
        ["state=bogus", /^state\[0\]: expected one of "received", .*; got "bogus"$/],
        ["limit=0", /limit must be 1-200/],
        ["limit=1000", /limit must be 1-200/],
        ["from=yesterday", /is not a date/],
        ["service=Other", /service/],
        ["from=2026-02-01&to=2026-01-01", /must be before/],
        ["cursor=x", /cursor|number/]
      ]
      for (const [query, pattern] of cases) {
        const reply = yield* viewer.get(`/api/jobs?${query}`)
        expect(reply.status, query).toBe(400)
        expect(messageOf(reply), query).toMatch(pattern)
      }
      const range = yield* viewer.get("/api/charts?range=1y")
      expect(range.status).toBe(400)
    })
  )

  it.effect("a missing CSRF token is 403 and nothing happens", () =>
    Effect.gen(function* () {
      const operator = yield* signIn("operator")
      const admin = yield* signIn("admin")
      const reply = yield* nothingAudited(admin, operator.post("/api/manual-add", { docs: ["x1"] }, { noCsrf: true }))
      expect(reply.status).toBe(403)
      expect(messageOf(reply)).toMatch(/missing CSRF token/)
      const tunables = yield* nothingAudited(admin, admin.put("/api/tunables", { values: { MAX_RETRIES: 5 } }, { noCsrf: true }))
      expect(tunables.status).toBe(403)
      const list = (yield* admin.get("/api/tunables")).body as { items: ReadonlyArray<{ key: string; current: number }> }
      expect(list.items.find((t) => t.key === "MAX_RETRIES")?.current).toBe(3)
    })
  )

  it.effect("an unknown route is a JSON 404", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      const operator = yield* signIn("operator")
      const post = yield* operator.post("/api/nothing-here", {})
      expect(post.status).toBe(404)
      expect(post.body).toMatchObject({ _tag: "NotFound" })
      const get = yield* send(base, "GET", "/api/nothing-here")
      expect(get.status).toBe(404)
      expect(get.body).toMatchObject({ _tag: "NotFound" })
    })
  )

  it.effect("a JSON body nested 3,000 deep is a one-line 400, signed in or not", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      const deep = `${"[".repeat(3000)}${"]".repeat(3000)}`
      const nobody = yield* send(base, "POST", "/api/session", { raw: deep })
      expect(nobody.status).toBe(400)
      expect(messageOf(nobody)).toBe("JSON body nested deeper than 32 levels")
      const operator = yield* signIn("operator")
      const admin = yield* signIn("admin")
      const signedIn = yield* nothingAudited(admin, operator.post("/api/manual-add", undefined, { raw: `{"docs":${deep}}` }))
      expect(signedIn.status).toBe(400)
      expect(messageOf(signedIn)).toBe("JSON body nested deeper than 32 levels")
      // A brace inside a string is not nesting.
      const braces = yield* operator.post("/api/manual-add/validate", { doc: "[".repeat(100) })
      expect(braces.status).toBe(400)
      expect(messageOf(braces)).not.toMatch(/nested/)
    })
  )

  it.effect("a NUL in a search or any query parameter is a one-line 400, even below 3 characters", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      for (const q of ["%00", "a%00", "%00%00%00", "abc%00def"]) {
        const reply = yield* viewer.get(`/api/jobs?q=${q}`)
        expect(reply.status, q).toBe(400)
        expect(messageOf(reply), q).toBe('query parameter "q" contains a NUL character')
      }
      const other = yield* viewer.get("/api/jobs?state=queued&service=%00")
      expect(other.status).toBe(400)
      expect(messageOf(other)).toBe('query parameter "service" contains a NUL character')
      const nobody = yield* (yield* anonymous).get("/api/jobs?q=%00")
      expect(nobody.status).toBe(400)
    })
  )

  it.effect("refusals never echo more than 200 characters of the input", () =>
    Effect.gen(function* () {
      const operator = yield* signIn("operator")
      const admin = yield* signIn("admin")
      const long = "x".repeat(60_000)
      const cases: ReadonlyArray<Effect.Effect<Reply>> = [
        operator.post("/api/manual-add/validate", { doc: long }),
        operator.post("/api/manual-add", { docs: [long] }),
        operator.post("/api/manual-add", { docs: 5, extra: long }),
        admin.put("/api/tunables", { values: { [long.slice(0, 30_000)]: 1 } }),
        admin.put("/api/tunables", { values: { MAX_RETRIES: long } }),
        operator.post("/api/manual-add", undefined, { raw: `{"docs": ["${long}` }),
        operator.get(`/api/jobs?q=${"y".repeat(8_000)}`),
        operator.get(`/api/${"z".repeat(8_000)}`)
      ]
      for (const [i, request] of cases.entries()) {
        const reply = yield* request
        expect(reply.status, `case ${i}`).toBeGreaterThanOrEqual(400)
        expect(reply.status, `case ${i}`).toBeLessThan(500)
        expect(messageOf(reply).length, `case ${i}: ${messageOf(reply).slice(0, 80)}`).toBeLessThanOrEqual(200)
        expect(messageOf(reply), `case ${i}`).not.toContain("\n")
        expect(reply.text.length, `case ${i}: the whole reply stays small`).toBeLessThan(4_000)
      }
    })
  )

  it.effect("tunable keys that are Object.prototype members are unknown tunables", () =>
    Effect.gen(function* () {
      const admin = yield* signIn("admin")
      for (const key of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
        const reply = yield* nothingAudited(admin, admin.put("/api/tunables", undefined, { raw: `{"values":{"${key}":1}}` }))
        expect(reply.status, key).toBe(400)
        // JSON.parse makes "__proto__" an own key; the schema drops it, leaving an empty request.
        expect(messageOf(reply), key).toMatch(key === "__proto__" ? /give at least one tunable/ : /unknown tunable/)
      }
    })
  )
})
