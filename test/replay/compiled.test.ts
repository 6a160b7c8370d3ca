/**
 * `make -s replay` runs the replay CLI compiled to dist/ (not tsx): its output
 * must be the very bytes the goldens hold, and the same bytes the replay
 * driver gives in this process, so compiling changes nothing a fixture sees.
 */
import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { goldenFileFor, REPLAY_DIR, serialise } from "../../kernel/replay/fixtures.ts"
import { generateScenario } from "../../kernel/replay/generate.ts"
import { runReplay } from "../support/replay.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))

// `-o node_modules/.installed`: a test never runs `npm ci` under everyone's feet (make test has run deps already).
const makeReplay = (fixture: string) =>
  spawnSync("make", ["-s", "--no-print-directory", "-o", "node_modules/.installed", "replay", `FIXTURE=${fixture}`], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024
  })

describe("make replay (compiled CLI)", () => {
  it("prints each golden's exact bytes for fixtures with crashes, restarts and outages", () => {
    for (const name of ["crash-recovery.json", "restart-exits-while-down.json", "outage.json", "retention-tokyo.json"]) {
      const fixture = join(REPLAY_DIR, name)
      const result = makeReplay(fixture)
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
      const result = makeReplay(file)
      expect(result.status, result.stderr).toBe(0)
      const inProcess = serialise(await runReplay(fixture))
      // Not a trivially empty run: 40 documents with retries and failures leave a long trace.
      expect((JSON.parse(inProcess) as { trace: ReadonlyArray<unknown> }).trace.length).toBeGreaterThan(200)
      expect(result.stdout).toBe(inProcess)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 180_000)

  it("a bad fixture still exits non-zero, names the step, and prints nothing on stdout", () => {
    const dir = mkdtempSync(join(tmpdir(), "lomi-compiled-replay-"))
    try {
      const file = join(dir, "bad.json")
      writeFileSync(file, JSON.stringify({ name: "x", steps: [{ at: "0s", explode: true }], until: "1h" }))
      const result = makeReplay(file)
      expect(result.status).not.toBe(0)
      expect(result.stdout).toBe("")
      expect(result.stderr).toContain('steps[0]: unknown step kind "explode"')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 180_000)
})
