/**
 * `make -s replay` runs the replay CLI compiled to dist/ (not tsx): its output
 * must be the very bytes the goldens hold, and the same bytes the replay
 * driver gives in this process, so compiling changes nothing a fixture sees.
 */
import { describe, expect, it } from "vitest"
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { goldenFileFor, REPLAY_DIR, serialise } from "../../kernel/replay/fixtures.ts"
import { generateScenario } from "../../kernel/replay/generate.ts"
import { runReplay } from "../support/replay.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))

// `-o node_modules/.installed`: a test never runs `npm ci` under everyone's feet (make test has run deps already).
// Asynchronous: a synchronous spawn blocks the test worker, and on a loaded machine vitest's own RPC times out meanwhile.
const makeReplay = (fixture: string, env: NodeJS.ProcessEnv = process.env) =>
  new Promise<{ readonly status: number | null; readonly stdout: string; readonly stderr: string }>((resolve, reject) => {
    const child = spawn("make", ["-s", "--no-print-directory", "-o", "node_modules/.installed", "replay", `FIXTURE=${fixture}`], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "pipe"]
    })
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk))
    child.on("error", reject)
    child.on("close", (status) =>
      resolve({ status, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") })
    )
  })

describe("make replay (compiled CLI)", () => {
  it("prints each golden's exact bytes for fixtures with crashes, restarts and outages", async () => {
    for (const name of ["crash-recovery.json", "restart-exits-while-down.json", "outage.json", "retention-tokyo.json"]) {
      const fixture = join(REPLAY_DIR, name)
      const result = await makeReplay(fixture)
      expect(result.status, result.stderr).toBe(0)
      expect(result.stdout, name).toBe(readFileSync(goldenFileFor(fixture), "utf8"))
    }
  }, 180_000)

  it("prints the same bytes as the replay driver run in process, for a generated busy month", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lomi-compiled-replay-"))
    try {
      const fixture = generateScenario({ documents: 40, days: 5, seed: 7 })
      const file = join(dir, "busy.json")
      writeFileSync(file, JSON.stringify(fixture))
      const result = await makeReplay(file)
      expect(result.status, result.stderr).toBe(0)
      const inProcess = serialise(await runReplay(fixture))
      // Not a trivially empty run: 40 documents with retries and failures leave a long trace.
      expect((JSON.parse(inProcess) as { trace: ReadonlyArray<unknown> }).trace.length).toBeGreaterThan(200)
      expect(result.stdout).toBe(inProcess)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 180_000)

  it("runs through a V8 code cache that a short replay writes for the next one", async () => {
    // LOMI_CODE_CACHE_DEBUG makes the loader say on stderr whether it found a cache (scripts/code-cache.cjs).
    const env = { ...process.env, LOMI_CODE_CACHE_DEBUG: "1" }
    const fixture = join(REPLAY_DIR, "tunables.json")
    // Caches an earlier run left would hide a run that never writes one.
    const bundleDir = join(root, "dist/kernel/replay")
    if (existsSync(bundleDir)) for (const name of readdirSync(bundleDir)) if (name.endsWith(".v8cache")) rmSync(join(bundleDir, name), { force: true })
    const first = await makeReplay(fixture, env)
    expect(first.status, first.stderr).toBe(0)
    expect(first.stderr).toMatch(/^code cache (used|absent|rejected): .*cli\.bundle\.cjs\..*\.v8cache$/m)
    // A replay this short ends long before the loader's default write (5 s after loading): the Makefile asks for it at once.
    const second = await makeReplay(fixture, env)
    expect(second.status, second.stderr).toBe(0)
    expect(second.stderr).toMatch(/^code cache used: /m)
    expect(second.stdout).toBe(readFileSync(goldenFileFor(fixture), "utf8"))
  }, 180_000)

  it("a bad fixture still exits non-zero, names the step, and prints nothing on stdout", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lomi-compiled-replay-"))
    try {
      const file = join(dir, "bad.json")
      writeFileSync(file, JSON.stringify({ name: "x", steps: [{ at: "0s", explode: true }], until: "1h" }))
      const result = await makeReplay(file)
      expect(result.status).not.toBe(0)
      expect(result.stdout).toBe("")
      expect(result.stderr).toContain('steps[0]: unknown step kind "explode"')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 180_000)
})
