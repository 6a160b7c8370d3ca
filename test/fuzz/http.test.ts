/**
 * Fuzzing every HTTP endpoint (from the API definition) with random bodies,
 * query strings and path parameters, signed in as an admin: never a 5xx,
 * never a hang, every refusal one short line, and nothing written outside
 * the server's own temporary tree.
 */
import { readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { HttpApi } from "@effect/platform"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { Api, CSRF_HEADER, SESSION_COOKIE } from "../../schemas/api.ts"
import { serverLayer, signIn, TestServer } from "../http/support.ts"
import { fuzzParameters, isOneShortLine } from "./seed.ts"

interface Endpoint {
  readonly method: string
  readonly path: string
}

const endpoints: Array<Endpoint> = []
HttpApi.reflect(Api, {
  onGroup: () => undefined,
  onEndpoint: ({ endpoint }) => endpoints.push({ method: endpoint.method, path: endpoint.path })
})

/** Left out: the two that end the test's own footing (restarting the server, signing the fuzzer out). */
const SKIPPED = new Set(["POST /api/restart", "DELETE /api/session"])
const targets = endpoints.filter((e) => !SKIPPED.has(`${e.method} ${e.path}`))

const REPO = fileURLToPath(new URL("../../", import.meta.url))

const text = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom("", "\u0000", "%00", "../../etc/passwd", "..", "a/b", "constructor", "__proto__", "1", "-1", "1e309", "Data Ready"),
  fc.integer({ min: 0, max: 3000 }).map((n) => "y".repeat(n))
)
const json = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.record({ docs: fc.array(text, { maxLength: 5 }), doc: text, values: fc.dictionary(text, fc.jsonValue({ maxDepth: 1 })), csv: text, name: text, password: text }, { requiredKeys: [] }),
  fc.integer({ min: 30, max: 4000 }).map((n) => `${"[".repeat(n)}${"]".repeat(n)}`),
  text
)
const body = json.map((v) => (typeof v === "string" && v.startsWith("[") ? v : JSON.stringify(v)))
const query = fc.dictionary(fc.constantFrom("q", "state", "service", "limit", "cursor", "from", "to", "range", "doc", "x"), text, { maxKeys: 4 })
const segment = fc.oneof(fc.constantFrom("1", "0", "999999", "demo-x", "..", "%2e%2e", "%00", "a%2Fb"), fc.string({ maxLength: 20 }).map(encodeURIComponent))

const pathFor = (path: string, params: ReadonlyArray<string>) => {
  let i = 0
  return path.replace(/:[a-z]+/g, () => params[i++] ?? "1")
}

layer(serverLayer(), { excludeTestServices: true })("fuzz: every HTTP endpoint", (it) => {
  it.effect(
    "no 5xx, no hang, every refusal one short line, nothing written outside the server's tree",
    () =>
      Effect.gen(function* () {
        const { base } = yield* TestServer
        const admin = yield* signIn("admin")
        const repoBefore = readdirSync(REPO).sort()
        const seen: Array<string> = []
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.constantFrom(...targets), body, query, fc.array(segment, { minLength: 3, maxLength: 3 }), async (endpoint, payload, params, segments) => {
              const search = new URLSearchParams(params).toString()
              const url = `${base}${pathFor(endpoint.path, segments)}${search === "" ? "" : `?${search}`}`
              const hasBody = endpoint.method !== "GET" && endpoint.method !== "HEAD"
              const response = await fetch(url, {
                method: endpoint.method,
                headers: {
                  cookie: `${SESSION_COOKIE}=${admin.cookie}`,
                  [CSRF_HEADER]: admin.csrf,
                  ...(hasBody ? { "content-type": "application/json" } : {}),
                  accept: "application/json"
                },
                ...(hasBody ? { body: payload } : {}),
                signal: AbortSignal.timeout(20_000)
              })
              const label = `${endpoint.method} ${url.slice(0, 160)} -> ${response.status}`
              seen.push(label)
              const streaming = (response.headers.get("content-type") ?? "").includes("text/event-stream")
              const reply = streaming ? "" : await response.text()
              if (streaming) await response.body?.cancel()
              expect(response.status, label).toBeLessThan(500)
              if (response.status >= 400 && (response.headers.get("content-type") ?? "").includes("json")) {
                const message = (JSON.parse(reply) as { message?: unknown }).message
                expect(typeof message, label).toBe("string")
                expect(isOneShortLine(String(message)), `${label}: ${String(message).slice(0, 300)}`).toBe(true)
              }
            }),
            fuzzParameters(60)
          )
        )
        expect(seen.length).toBeGreaterThan(0)
        expect(readdirSync(REPO).sort(), "new files in the repository").toEqual(repoBefore)
      }),
    600_000
  )
})
