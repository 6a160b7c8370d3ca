/**
 * What the dashboard server's bundle loads at start-up (scripts/build.mjs):
 * its memory at rest is mostly the code it evaluates (issue 12: under
 * 80 MiB), so the Swagger UI page (2 MB) waits in a chunk of its own until
 * /api/docs is opened, and undici and ws, which @effect/platform-node
 * imports for an HTTP client and WebSocket upgrades the dashboard never
 * uses, are not in it at all.
 *
 * Built into a temporary directory, not dist/. The bundle is minified, so a
 * package is recognised by a message of its own: ws's server refusing a
 * handshake, undici's connect timeout code, Swagger UI's global.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const repo = resolve(import.meta.dirname, "../..")
let out = ""
let dir = ""

/** main.js and every chunk it imports statically (`from "./chunk.js"`), transitively: what runs at start-up. */
const eagerFiles = (entry: string): ReadonlyArray<string> => {
  const seen = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    const text = readFileSync(join(dir, file), "utf8")
    // Static imports only (`from"./x.js"`, `import"./x.js"`): a dynamic `import("./x.js")` loads later.
    for (const m of text.matchAll(/(?:from|import)\s*"\.\/([^"]+\.js)"/g)) if (m[1] !== undefined) visit(m[1])
  }
  visit(entry)
  return [...seen]
}

describe("the dashboard server's bundle", () => {
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), "lomi-dashboard-bundle-"))
    const built = spawnSync(process.execPath, ["scripts/build.mjs", "kernel/dashboard/main.ts"], {
      cwd: repo,
      env: { ...process.env, LOMI_BUILD_OUTDIR: out },
      encoding: "utf8"
    })
    if (built.status !== 0) throw new Error(`build failed: ${built.stderr}`)
    dir = join(out, "kernel/dashboard")
  }, 180_000)
  afterAll(() => rmSync(out, { recursive: true, force: true }))

  it("loads neither the Swagger UI page, nor undici, nor ws at start-up", () => {
    expect(existsSync(join(dir, "main.js"))).toBe(true)
    const eager = eagerFiles("main.js")
    // The bundle does load something beyond main.js (shared chunks): the walk above finds them.
    expect(eager.length).toBeGreaterThan(1)
    for (const file of eager) {
      const text = readFileSync(join(dir, file), "utf8")
      expect(text, file).not.toContain("SwaggerUIBundle")
      expect(text, file).not.toContain("UND_ERR_CONNECT_TIMEOUT")
      expect(text, file).not.toContain("Missing or invalid Sec-WebSocket-Key header")
    }
  })

  it("keeps the Swagger UI page in a chunk of its own, for /api/docs", () => {
    const eager = new Set(eagerFiles("main.js"))
    const lazy = readdirSync(dir).filter((f) => f.endsWith(".js") && !eager.has(f))
    const withSwagger = lazy.filter((f) => readFileSync(join(dir, f), "utf8").includes("SwaggerUIBundle"))
    expect(withSwagger).toHaveLength(1)
    expect(withSwagger[0]).toMatch(/^main-apiDocsPage-/)
  })

  it("bundles in place of ws (used inside functions, never called there) a stand-in whose error names the build script", () => {
    // undici's stand-in is unused altogether (platform-node only re-exports it), so esbuild drops it too.
    const eagerText = eagerFiles("main.js").map((f) => readFileSync(join(dir, f), "utf8")).join("\n")
    expect(eagerText).toContain("ws is left out of the dashboard bundle (scripts/build.mjs); bundle it to use it there")
  })
})
