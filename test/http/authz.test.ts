/**
 * The authorization matrix: every endpoint × (no session, viewer, operator,
 * admin), plus a missing CSRF token on every mutating endpoint.
 *
 * The role each endpoint needs is written out below (README "Users" and
 * "Dashboard and API": viewer reads, operator job and hold commands, admin
 * tunables, batch rerun, mark-failed-for-retry, users and restart), not read
 * from the endpoint's own annotation: an endpoint missing from the table
 * fails, and so does one whose annotation or middleware disagrees with it.
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

const EXPECTED_ACCESS: Readonly<Record<string, AccessLevel>> = {
  "POST /api/session": "public",
  "GET /api/session": "viewer",
  "DELETE /api/session": "viewer",
  "GET /api/users": "admin",
  "GET /healthz": "public",
  "GET /readyz": "public",
  "GET /metrics": "public",
  "GET /api/restart": "viewer",
  "POST /api/restart": "admin",
  "GET /api/state-cards": "viewer",
  "GET /api/jobs": "viewer",
  "GET /api/needs-human": "viewer",
  "GET /api/jobs.csv": "viewer",
  "GET /api/docs/:doc/timeline": "viewer",
  "GET /api/docs/:doc": "viewer",
  "GET /api/runs/:run/log": "viewer",
  "GET /api/process-queue": "viewer",
  "GET /api/tunables": "viewer",
  "GET /api/commands": "viewer",
  "GET /api/notifications": "viewer",
  "GET /api/health": "viewer",
  "POST /api/health/refresh": "viewer",
  "GET /api/charts": "viewer",
  "GET /api/sysadmin": "viewer",
  "GET /api/events": "viewer",
  "GET /api/runs/:run/log/stream": "viewer",
  "GET /api/live-runs": "viewer",
  "POST /api/runs/:run/kill": "operator",
  "POST /api/runs/:run/skip": "operator",
  "POST /api/docs/:doc/retry": "operator",
  "POST /api/docs/:doc/reset-data-ready": "operator",
  "POST /api/docs/:doc/regenerate-ocr": "operator",
  "POST /api/docs/:doc/mark-failed-for-retry": "admin",
  "POST /api/batch-rerun": "admin",
  "POST /api/batch-reruns": "admin",
  "GET /api/batch-reruns": "admin",
  "GET /api/batch-reruns/:batch": "admin",
  "GET /api/batch-reruns/:batch/stream": "admin",
  "POST /api/manual-add/validate": "operator",
  "POST /api/manual-add/validate-csv": "operator",
  "POST /api/manual-add": "operator",
  "POST /api/holds/:doc/release": "operator",
  "POST /api/holds/:doc/cancel": "operator",
  "POST /api/holds/release": "operator",
  "POST /api/holds/cancel": "operator",
  "PUT /api/tunables": "admin"
}

const keyOf = (e: EndpointInfo) => `${e.method} ${e.path}`

/** The role the table demands; an endpoint missing from it fails its test. */
const expectedAccess = (e: EndpointInfo): AccessLevel => {
  const level = Object.hasOwn(EXPECTED_ACCESS, keyOf(e)) ? EXPECTED_ACCESS[keyOf(e)] : undefined
  if (level === undefined) throw new Error(`${keyOf(e)} (${e.id}) is not in EXPECTED_ACCESS: decide its role and add it`)
  return level
}

const MIDDLEWARE_FOR: Record<Role, string> = {
  viewer: ViewerAccess.key,
  operator: OperatorAccess.key,
  admin: AdminAccess.key
}

const concretePath = (path: string) =>
  path.replace(":run", "999999").replace(":doc", "authz-nothing-here").replace(":batch", "authz-no-batch")

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

  plain("every endpoint in the table exists", () => {
    const present = new Set(endpoints.map(keyOf))
    expect(Object.keys(EXPECTED_ACCESS).filter((k) => !present.has(k))).toEqual([])
  })

  for (const e of endpoints) {
    plain(`${e.id} needs the role the table gives it, enforced by the matching middleware`, () => {
      const access = expectedAccess(e)
      expect(Option.getOrUndefined(e.access), `${e.id} (${e.method} ${e.path}) annotation`).toBe(access)
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
    const path = concretePath(e.path)

    it.effect(`${e.id}: ${e.method} ${e.path}`, () =>
      Effect.gen(function* () {
        const access = expectedAccess(e)
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
