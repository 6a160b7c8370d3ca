import { describe, expect, it as plain, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { parseHash, verifyPassword } from "../../kernel/http/passwords.ts"
import { bootstrapCredentials, hashPassword } from "../../kernel/http/server.ts"
import { clientFor, cookieFrom, send, serverLayer, signIn, signInAs, TestServer, USERS } from "./support.ts"

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
