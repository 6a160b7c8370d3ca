/** The built dashboard served at /, never anything outside its directory. */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { rawRequest, send, serverLayer, TestServer } from "./support.ts"

const dist = mkdtempSync(join(tmpdir(), "lomi-ui-dist-"))
mkdirSync(join(dist, "assets"))
writeFileSync(join(dist, "index.html"), "<!doctype html><title>dashboard</title>")
writeFileSync(join(dist, "assets", "app-123.js"), "console.log('app')")
writeFileSync(join(dist, "favicon.svg"), "<svg/>")
writeFileSync(join(dirname(dist), "secret-next-to-dist.txt"), "TOP-SECRET-CONTENT")

function dirname(path: string) {
  return join(path, "..")
}

layer(serverLayer({ staticDir: dist }), { excludeTestServices: true })("static files", (it) => {
  it.effect("index, assets with their types, and client-side routes", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      const index = yield* send(base, "GET", "/")
      expect(index.status).toBe(200)
      expect(index.text).toContain("<title>dashboard</title>")
      expect(index.headers.get("content-type")).toMatch(/^text\/html/)
      expect(index.headers.get("cache-control")).toBe("no-cache")
      const js = yield* send(base, "GET", "/assets/app-123.js")
      expect(js.headers.get("content-type")).toMatch(/javascript/)
      expect(js.headers.get("cache-control")).toMatch(/immutable/)
      const svg = yield* send(base, "GET", "/favicon.svg")
      expect(svg.headers.get("content-type")).toBe("image/svg+xml")
      const route = yield* send(base, "GET", "/jobs/some-doc")
      expect(route.text).toContain("<title>dashboard</title>")
      const missingAsset = yield* send(base, "GET", "/assets/nope.js")
      expect(missingAsset.status).toBe(404)
    })
  )

  it.effect("paths that climb out of the directory are not served", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      for (const path of ["/../secret-next-to-dist.txt", "/%2e%2e/secret-next-to-dist.txt", "/assets/..%2F..%2Fsecret-next-to-dist.txt"]) {
        const reply = yield* rawRequest(base, "GET", path)
        expect(reply.body, path).not.toContain("TOP-SECRET-CONTENT")
        expect(reply.status, path).toBe(404)
      }
    })
  )

  it.effect("/api/* is never answered with the dashboard", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      const reply = yield* send(base, "GET", "/api/unknown")
      expect(reply.status).toBe(404)
      expect(reply.body).toMatchObject({ _tag: "NotFound" })
    })
  )
})
