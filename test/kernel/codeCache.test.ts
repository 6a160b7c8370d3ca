/**
 * The V8 code cache the kernel and the execution host start through
 * (scripts/code-cache.cjs, issue 12 start-up): a bundle runs the same with
 * or without it; a second start uses the cache the first one wrote; a
 * rebuilt bundle never runs code compiled from the old text, even at the
 * same length (V8's own check is the length); another node flag set keeps
 * its own cache; a damaged cache is refused and replaced. And the build
 * writes the kernel's and the host's `main.js` as a stub over a CommonJS
 * bundle, drops caches of an earlier bundle text, and the built host runs
 * through it.
 *
 * Real processes (`node`), real files; each start's verdict is the line the
 * loader prints under LOMI_CODE_CACHE_DEBUG=1.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const repo = resolve(import.meta.dirname, "../..")
const LOADER = join(repo, "scripts/code-cache.cjs")

/** A bundle printing `word` and what the CommonJS wrapper gave it; a timer keeps it alive for the cache write. */
const bundleText = (word: string) =>
  `const path = require("node:path")\n` +
  `process.stdout.write(${JSON.stringify(word)} + " " + path.basename(__filename) + " " + typeof module.exports + "\\n")\n` +
  `setTimeout(() => {}, 300)\n`

interface Start {
  readonly verdict: string
  readonly stdout: string
  readonly status: number | null
}

const start = (file: string, flags: ReadonlyArray<string> = []): Start => {
  const r = spawnSync(process.execPath, [...flags, "-e", `require(${JSON.stringify(LOADER)}).runWithCodeCache(${JSON.stringify(file)})`], {
    encoding: "utf8",
    env: { ...process.env, LOMI_CODE_CACHE_DEBUG: "1", LOMI_CODE_CACHE_WRITE_AFTER_MS: "0" }
  })
  const verdict = /^code cache (used|absent|rejected): /m.exec(r.stderr)?.[1] ?? `no verdict: ${r.stderr}`
  return { verdict, stdout: r.stdout, status: r.status }
}

const caches = (dir: string) => readdirSync(dir).filter((n) => n.endsWith(".v8cache")).sort()

describe("running a bundle through the code cache", () => {
  let dir = ""
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "lomi-code-cache-"))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("runs without a cache, writes one, and the next start uses it", () => {
    const file = join(dir, "first.bundle.cjs")
    writeFileSync(file, bundleText("alpha"))
    const first = start(file)
    expect(first).toEqual({ verdict: "absent", stdout: "alpha first.bundle.cjs object\n", status: 0 })
    expect(caches(dir).filter((n) => n.startsWith("first.bundle.cjs."))).toHaveLength(1)
    const second = start(file)
    expect(second).toEqual({ verdict: "used", stdout: "alpha first.bundle.cjs object\n", status: 0 })
  })

  it("does not run the old code of a rebuilt bundle of the same length", () => {
    const file = join(dir, "rebuilt.bundle.cjs")
    writeFileSync(file, bundleText("alpha"))
    start(file)
    expect(start(file).verdict).toBe("used")
    // Same length, other text: V8 alone would take the old cache for it.
    writeFileSync(file, bundleText("omega"))
    expect(start(file)).toEqual({ verdict: "absent", stdout: "omega rebuilt.bundle.cjs object\n", status: 0 })
    expect(start(file)).toEqual({ verdict: "used", stdout: "omega rebuilt.bundle.cjs object\n", status: 0 })
  })

  it("keeps one cache per node flag set, so starts with different flags do not evict each other", () => {
    const file = join(dir, "flags.bundle.cjs")
    writeFileSync(file, bundleText("flags"))
    start(file)
    expect(start(file, ["--max-semi-space-size=2"]).verdict).toBe("absent")
    expect(caches(dir).filter((n) => n.startsWith("flags.bundle.cjs."))).toHaveLength(2)
    expect(start(file).verdict).toBe("used")
    expect(start(file, ["--max-semi-space-size=2"]).verdict).toBe("used")
  })

  it("refuses a damaged cache, runs anyway and writes a good one", () => {
    const file = join(dir, "damaged.bundle.cjs")
    writeFileSync(file, bundleText("sound"))
    start(file)
    const [cache] = caches(dir).filter((n) => n.startsWith("damaged.bundle.cjs."))
    if (cache === undefined) throw new Error("no cache written")
    writeFileSync(join(dir, cache), Buffer.alloc(4096, 7))
    expect(start(file)).toEqual({ verdict: "rejected", stdout: "sound damaged.bundle.cjs object\n", status: 0 })
    expect(start(file).verdict).toBe("used")
  })
})

describe("the build's code-cached entries", () => {
  let out = ""
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), "lomi-code-cache-build-"))
    // A cache of some earlier bundle text: the build removes it.
    mkdirSync(join(out, "kernel/exechost"), { recursive: true })
    writeFileSync(join(out, "kernel/exechost/main.bundle.cjs.0000000000000000-00000000.v8cache"), "stale")
    writeFileSync(join(out, "kernel/exechost/main.bundle.cjs.0000000000000000-00000000.v8cache.4242.tmp"), "cut short")
    const built = spawnSync(process.execPath, ["scripts/build.mjs", "kernel/exechost/main.ts"], {
      cwd: repo,
      env: { ...process.env, LOMI_BUILD_OUTDIR: out },
      encoding: "utf8"
    })
    if (built.status !== 0) throw new Error(`build failed: ${built.stderr}`)
  }, 180_000)
  afterAll(() => rmSync(out, { recursive: true, force: true }))

  it("writes main.js as a stub over a CommonJS bundle and drops caches of an earlier bundle", () => {
    const stub = readFileSync(join(out, "kernel/exechost/main.js"), "utf8")
    expect(stub).toContain('("../../code-cache.cjs")')
    expect(stub).toContain('runWithCodeCache(new URL("./main.bundle.cjs", import.meta.url))')
    expect(existsSync(join(out, "code-cache.cjs"))).toBe(true)
    expect(readFileSync(join(out, "kernel/exechost/main.bundle.cjs"), "utf8")).toContain("module.exports")
    expect(existsSync(join(out, "kernel/exechost/main.bundle.cjs.0000000000000000-00000000.v8cache"))).toBe(false)
    expect(existsSync(join(out, "kernel/exechost/main.bundle.cjs.0000000000000000-00000000.v8cache.4242.tmp"))).toBe(false)
  })

  it("runs the built execution host through it: a bad config is one line and exit 2", () => {
    const r = spawnSync(process.execPath, [join(out, "kernel/exechost/main.js"), join(out, "no-such-config.json")], {
      encoding: "utf8",
      env: { ...process.env, LOMI_CODE_CACHE_DEBUG: "1" }
    })
    expect(r.stderr).toMatch(/^code cache absent: .*main\.bundle\.cjs\.[0-9a-f]{16}-[0-9a-f]{8}\.v8cache$/m)
    expect(r.stderr).toContain("lomi-exechost: cannot read config")
    expect(r.status).toBe(2)
  }, 60_000)
})
