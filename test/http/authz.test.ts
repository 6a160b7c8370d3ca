/**
 * The authorization matrix, generated from the API definition: every
 * endpoint × (no session, viewer, operator, admin), plus a missing CSRF
 * token on every mutating endpoint. An endpoint without an `Access` rule
 * fails here, as does one whose middleware does not match its rule.
 *
 * Requests that get through carry no body and name ids that do not exist,
 * so an allowed call is a 4xx from validation, never a change.
 */
import { HttpApi } from "@effect/platform"
import { describe, expect, it as plain, layer } from "@effect/vitest"
import { Context, Effect, Option } from "effect"
import {
  Access,
  type AccessLevel,
  AdminAccess,
  Api,
  CSRF_HEADER,
  OperatorAccess,
  type Role,
  ROLES,
  SESSION_COOKIE,
  ViewerAccess
} from "../../schemas/api.ts"
import { type Client, serverLayer, signIn, TestServer } from "./support.ts"

interface EndpointInfo {
  readonly id: string
  readonly method: string
  readonly path: string
  readonly access: Option.Option<AccessLevel>
  readonly middleware: ReadonlyArray<string>
}

const endpoints: Array<EndpointInfo> = []
HttpApi.reflect(Api, {
  onGroup: () => undefined,
  onEndpoint: ({ endpoint, group, mergedAnnotations, middleware }) => {
    endpoints.push({
      id: `${group.identifier}.${endpoint.name}`,
      method: endpoint.method,
      path: endpoint.path,
      access: Context.getOption(mergedAnnotations, Access),
      middleware: [...middleware].map((m) => m.key)
    })
  }
})

const MIDDLEWARE_FOR: Record<Role, string> = {
  viewer: ViewerAccess.key,
  operator: OperatorAccess.key,
  admin: AdminAccess.key
}

const concretePath = (path: string) =>
  path.replace(":run", "999999").replace(":doc", "authz-nothing-here")

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"])

/** Status only; a streaming response is abandoned as soon as its headers arrive. */
const statusOf = (base: string, method: string, path: string, cookie: string | undefined, csrf: string | undefined) =>
  Effect.promise(async () => {
    const controller = new AbortController()
    const headers: Record<string, string> = {}
    if (cookie !== undefined) headers.cookie = `${SESSION_COOKIE}=${cookie}`
    if (csrf !== undefined) headers[CSRF_HEADER] = csrf
    const response = await fetch(`${base}${path}`, { method, headers, signal: controller.signal })
    const status = response.status
    controller.abort()
    await response.body?.cancel().catch(() => undefined)
    return status
  })

describe("the API definition", () => {
  plain("has endpoints to check", () => {
    expect(endpoints.length).toBeGreaterThan(30)
  })

  for (const e of endpoints) {
    plain(`${e.id} has an access rule enforced by the matching middleware`, () => {
      expect(Option.isSome(e.access), `${e.id} (${e.method} ${e.path}) has no Access annotation`).toBe(true)
      const access = Option.getOrThrow(e.access)
      const expected = access === "public" ? [] : [MIDDLEWARE_FOR[access]]
      expect(e.middleware.filter((m) => Object.values(MIDDLEWARE_FOR).includes(m))).toEqual(expected)
    })
  }
})

layer(serverLayer(), { excludeTestServices: true })("authorization matrix", (it) => {
  const sessions = new Map<Role, Client>()
  const session = (role: Role) =>
    Effect.gen(function* () {
      const existing = sessions.get(role)
      if (existing !== undefined) return existing
      const fresh = yield* signIn(role)
      sessions.set(role, fresh)
      return fresh
    })

  for (const e of endpoints) {
    const access = Option.getOrElse(e.access, (): AccessLevel => "public")
    const path = concretePath(e.path)

    it.effect(`${e.id}: ${e.method} ${e.path} [${access}]`, () =>
      Effect.gen(function* () {
        expect(Option.isSome(e.access), `${e.id} has no Access rule`).toBe(true)
        const { base } = yield* TestServer
        const anonymous = yield* statusOf(base, e.method, path, undefined, undefined)
        if (access === "public") {
          expect([401, 403], `${e.id} is public`).not.toContain(anonymous)
          expect(anonymous, `${e.id} anonymous`).toBeLessThan(500)
        } else {
          expect(anonymous, `${e.id} without a session`).toBe(401)
        }
        for (const role of ROLES) {
          const client = yield* session(role)
          const status = yield* statusOf(base, e.method, path, client.cookie, client.csrf)
          if (e.method === "DELETE" && e.path === "/api/session") sessions.delete(role)
          const allowed = access === "public" || ROLES.indexOf(role) >= ROLES.indexOf(access)
          if (allowed) {
            expect([401, 403], `${e.id} as ${role}`).not.toContain(status)
            expect(status, `${e.id} as ${role}`).toBeLessThan(500)
          }
          else expect(status, `${e.id} as ${role}`).toBe(403)
        }
        if (access !== "public" && MUTATING.has(e.method)) {
          const admin = yield* session("admin")
          const noCsrf = yield* statusOf(base, e.method, path, admin.cookie, undefined)
          expect(noCsrf, `${e.id} without CSRF token`).toBe(403)
          const wrongCsrf = yield* statusOf(base, e.method, path, admin.cookie, `${admin.csrf}x`)
          expect(wrongCsrf, `${e.id} with a wrong CSRF token`).toBe(403)
        }
      })
    )
  }
})
