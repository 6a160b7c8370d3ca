import { mkdtempSync, readFileSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it as plain, layer } from "@effect/vitest"
import { Effect, Fiber, Option, TestClock, TestContext } from "effect"
import { bootstrapHashFile, makeHttpAuth, MAX_SESSIONS_PER_USER } from "../../kernel/http/auth.ts"
import { testConfig } from "../support/allocator.ts"
import { parseHash, verifyPassword } from "../../kernel/http/passwords.ts"
import { bootstrapCredentials, hashPassword } from "../../kernel/http/server.ts"
import { clientFor, cookieFrom, openSse, send, serverLayer, signIn, signInAs, TestServer, USERS } from "./support.ts"

describe("password hashes", () => {
  plain.effect("round-trip and refuse a wrong password", () =>
    Effect.gen(function* () {
      const hash = yield* hashPassword("s3cret")
      expect(hash).toMatch(/^scrypt:[0-9a-f]{32}:[0-9a-f]{64}$/)
      expect(yield* verifyPassword("s3cret", hash)).toBe(true)
      expect(yield* verifyPassword("s3cret!", hash)).toBe(false)
      expect(yield* verifyPassword("s3cret", "plain-text")).toBe(false)
      expect(parseHash("scrypt:zz:00")).toBeUndefined()
    })
  )
})

layer(serverLayer(), { excludeTestServices: true })("sessions", (it) => {
  it.effect("sign-in sets an HttpOnly SameSite=Strict cookie and returns a CSRF token", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      const reply = yield* send(base, "POST", "/api/session", { body: { name: "otto", password: USERS.operator.password } })
      expect(reply.status).toBe(200)
      expect(reply.body).toMatchObject({ user: "otto", role: "operator" })
      const cookie = reply.headers.get("set-cookie") ?? ""
      expect(cookie).toMatch(/HttpOnly/i)
      expect(cookie).toMatch(/SameSite=Strict/i)
      expect(cookie).toMatch(/Path=\//i)
      expect(cookie).not.toMatch(/Secure/i)
      expect(typeof (reply.body as { csrfToken: unknown }).csrfToken).toBe("string")
    })
  )

  it.effect("a wrong password and an unknown user get the same 401", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      const wrong = yield* send(base, "POST", "/api/session", { body: { name: "otto", password: "nope" } })
      const unknown = yield* send(base, "POST", "/api/session", { body: { name: "mallory", password: "nope" } })
      expect(wrong.status).toBe(401)
      expect(unknown.status).toBe(401)
      expect(wrong.body).toEqual({ _tag: "Unauthorized", message: "wrong user name or password" })
      expect(unknown.body).toEqual(wrong.body)
      expect(wrong.headers.get("set-cookie")).toBeNull()
    })
  )

  it.effect("who-am-I answers with the session's CSRF token", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const me = yield* viewer.get("/api/session")
      expect(me.status).toBe(200)
      expect(me.body).toMatchObject({ user: "vera", role: "viewer", csrfToken: viewer.csrf })
    })
  )

  it.effect("sign-out ends the session and expires the cookie", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const out = yield* viewer.del("/api/session")
      expect(out.status).toBe(204)
      expect(out.headers.get("set-cookie") ?? "").toMatch(/lomi_session=;.*(Max-Age=0|Expires=Thu, 01 Jan 1970)/i)
      const after = yield* viewer.get("/api/state-cards")
      expect(after.status).toBe(401)
      expect((after.body as { message: string }).message).toMatch(/expired or was signed out/)
    })
  )

  it.effect("a made-up cookie is 401", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      const forged = clientFor(base, "x", "forged-token", "forged")
      const reply = yield* forged.get("/api/jobs")
      expect(reply.status).toBe(401)
    })
  )

  it.effect("each sign-in is its own session", () =>
    Effect.gen(function* () {
      const a = yield* signIn("operator")
      const b = yield* signIn("operator")
      expect(a.cookie).not.toBe(b.cookie)
      expect(a.csrf).not.toBe(b.csrf)
      // One session's CSRF token does not work with another's cookie.
      const { base } = yield* TestServer
      const mixed = clientFor(base, "otto", a.cookie, b.csrf)
      const reply = yield* mixed.post("/api/runs/1/skip")
      expect(reply.status).toBe(403)
    })
  )

  it.effect("admins list users (names and roles, never hashes)", () =>
    Effect.gen(function* () {
      const admin = yield* signIn("admin")
      const reply = yield* admin.get("/api/users")
      expect(reply.status).toBe(200)
      expect(reply.body).toEqual({
        bootstrap: false,
        users: [
          { name: "vera", role: "viewer" },
          { name: "otto", role: "operator" },
          { name: "ada", role: "admin" }
        ]
      })
      expect(reply.text).not.toContain("scrypt")
    })
  )
})

layer(serverLayer({ secureCookies: true }), { excludeTestServices: true })("behind TLS", (it) => {
  it.effect("the session cookie is Secure", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      const reply = yield* send(base, "POST", "/api/session", { body: { name: "vera", password: USERS.viewer.password } })
      expect(reply.headers.get("set-cookie") ?? "").toMatch(/;\s*Secure/i)
    })
  )
})

layer(serverLayer({ users: [] }), { excludeTestServices: true })("first run (no users configured)", (it) => {
  it.effect("a bootstrap admin with a generated password can sign in", () =>
    Effect.gen(function* () {
      const credential = yield* bootstrapCredentials
      expect(Option.isSome(credential)).toBe(true)
      const { name, password } = Option.getOrThrow(credential)
      expect(name).toBe("admin")
      expect(password).toMatch(/^[A-Za-z0-9]{20}$/)
      const { base } = yield* TestServer
      const wrong = yield* send(base, "POST", "/api/session", { body: { name, password: `${password}x` } })
      expect(wrong.status).toBe(401)
      const admin = yield* signInAs(name, password)
      const users = yield* admin.get("/api/users")
      expect(users.body).toEqual({ bootstrap: true, users: [{ name: "admin", role: "admin" }] })
      expect(Option.isSome(cookieFrom(wrong))).toBe(false)
    })
  )
})

layer(serverLayer(), { excludeTestServices: true })("session limits", (it) => {
  it.effect("a user's sign-ins evict only that user's own oldest sessions, never another user's", () =>
    Effect.gen(function* () {
      const admin = yield* signIn("admin")
      const first = yield* signIn("viewer")
      const later = []
      for (let i = 0; i < MAX_SESSIONS_PER_USER + 20; i++) later.push(yield* signIn("viewer"))
      expect((yield* admin.get("/api/session")).status).toBe(200)
      expect((yield* first.get("/api/session")).status).toBe(401)
      expect((yield* (later[later.length - 1] ?? first).get("/api/session")).status).toBe(200)
      // Exactly the newest MAX_SESSIONS_PER_USER (10) of the viewer's sessions are alive.
      const alive = []
      for (const c of later) alive.push((yield* c.get("/api/session")).status === 200)
      expect(alive.filter(Boolean).length).toBe(MAX_SESSIONS_PER_USER)
      expect(alive.slice(-MAX_SESSIONS_PER_USER).every(Boolean)).toBe(true)
    })
  )

  it.effect("an event stream opened before sign-out ends at sign-out", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      const viewer = yield* signIn("viewer")
      const stream = yield* Effect.promise(() => openSse(base, "/api/events", viewer.cookie))
      yield* Effect.promise(() => stream.connected())
      expect((yield* viewer.del("/api/session")).status).toBe(204)
      const ended = yield* Effect.promise(() =>
        Promise.race([stream.ended().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))])
      )
      stream.close()
      expect(ended, "the stream ended within 10 s of sign-out").toBe(true)
    })
  )
})

layer(serverLayer(), { excludeTestServices: true })("sign-in lockout per user", (it) => {
  it.effect("five wrong passwords lock that user (429, even with the right password); other users are unaffected", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      for (let i = 0; i < 5; i++) {
        const wrong = yield* send(base, "POST", "/api/session", { body: { name: "otto", password: `guess-${i}` } })
        expect(wrong.status).toBe(401)
      }
      const right = yield* send(base, "POST", "/api/session", { body: { name: "otto", password: USERS.operator.password } })
      expect(right.status).toBe(429)
      expect(right.body).toMatchObject({ _tag: "TooManyAttempts", message: expect.stringMatching(/^too many wrong passwords; try again in \d+ s$/) })
      expect(right.headers.get("set-cookie")).toBeNull()
      expect((yield* signIn("viewer")).user).toBe("vera")
    })
  )
})

layer(serverLayer(), { excludeTestServices: true })("sign-in lockout per address", (it) => {
  it.effect("twenty wrong passwords from one address, whatever the names, lock that address", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      for (let i = 0; i < 20; i++) {
        const wrong = yield* send(base, "POST", "/api/session", { body: { name: `guess-${i}`, password: "x" } })
        expect(wrong.status).toBe(401)
      }
      const right = yield* send(base, "POST", "/api/session", { body: { name: "vera", password: USERS.viewer.password } })
      expect(right.status).toBe(429)
    })
  )
})

describe("session lifetime and the first-run admin (test clock)", () => {
  const withUsers = (dir: string) =>
    Effect.map(hashPassword("pw-1"), (passwordHash) => {
      const base = testConfig(dir)
      return { ...base, http: { ...base.http, users: [{ name: "ann", role: "admin" as const, passwordHash }] } }
    })

  plain.scoped("a session ends 24 h after sign-in however busy, and its streams' end signal fires", () =>
    Effect.gen(function* () {
      const auth = yield* makeHttpAuth(yield* withUsers(mkdtempSync(join(tmpdir(), "lomi-auth-"))), { secureCookie: false })
      const session = yield* auth.open({ name: "ann", role: "admin" })
      const ended = yield* Effect.fork(auth.whenEnded(session.token))
      // Used every hour: the idle timeout (12 h) never runs out, the absolute lifetime (24 h) does.
      for (let hour = 1; hour < 24; hour++) {
        yield* TestClock.adjust("1 hour")
        expect(Option.isSome(yield* auth.lookup(session.token)), `hour ${hour}`).toBe(true)
      }
      yield* TestClock.adjust("1 hour")
      expect(Option.isNone(yield* auth.lookup(session.token))).toBe(true)
      yield* Fiber.join(ended)
    }).pipe(Effect.provide(TestContext.TestContext))
  )

  plain.scoped("an idle session ends after 12 h", () =>
    Effect.gen(function* () {
      const auth = yield* makeHttpAuth(yield* withUsers(mkdtempSync(join(tmpdir(), "lomi-auth-"))), { secureCookie: false })
      const session = yield* auth.open({ name: "ann", role: "admin" })
      yield* TestClock.adjust("11 hours")
      expect(Option.isSome(yield* auth.lookup(session.token))).toBe(true)
      yield* TestClock.adjust("12 hours")
      expect(Option.isNone(yield* auth.lookup(session.token))).toBe(true)
    }).pipe(Effect.provide(TestContext.TestContext))
  )

  plain.scoped("a user lock lifts after 15 minutes", () =>
    Effect.gen(function* () {
      const auth = yield* makeHttpAuth(yield* withUsers(mkdtempSync(join(tmpdir(), "lomi-auth-"))), { secureCookie: false })
      for (let i = 0; i < 5; i++) yield* auth.throttle.recordFailure("ann", "10.0.0.1")
      expect(yield* auth.throttle.lockedFor("ann", "10.0.0.2")).toEqual(Option.some(900))
      yield* TestClock.adjust("15 minutes")
      expect(yield* auth.throttle.lockedFor("ann", "10.0.0.2")).toEqual(Option.none())
    }).pipe(Effect.provide(TestContext.TestContext))
  )

  plain.effect("the first-run admin password is created once, stored hashed (0600), and stays valid across restarts", () =>
    Effect.gen(function* () {
      const config = testConfig(mkdtempSync(join(tmpdir(), "lomi-auth-")))
      const dir = config.dataDir
      const first = yield* makeHttpAuth(config, { secureCookie: false })
      const password = Option.getOrThrow(first.bootstrap).password
      expect(first.loginNotice).toContain(password)
      const stored = readFileSync(bootstrapHashFile(dir), "utf8")
      expect(stored).toMatch(/^scrypt:[0-9a-f]+:[0-9a-f]+\n$/)
      expect(stored).not.toContain(password)
      expect(statSync(bootstrapHashFile(dir)).mode & 0o777).toBe(0o600)
      const second = yield* makeHttpAuth(config, { secureCookie: false })
      expect(Option.isNone(second.bootstrap)).toBe(true)
      expect(second.firstRun).toBe(true)
      expect(second.loginNotice).not.toContain(password)
      expect(second.loginNotice).toContain(bootstrapHashFile(dir))
      expect(Option.isSome(yield* second.authenticate("admin", password))).toBe(true)
      expect(Option.isNone(yield* second.authenticate("admin", `${password}x`))).toBe(true)
    })
  )
})
