import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { decodeFixture } from "../../schemas/fixture.ts"
import { Either } from "effect"

const root = fileURLToPath(new URL("../../", import.meta.url))
const tsx = join(root, "node_modules/.bin/tsx")

/** Each run gets its own TMPDIR, so "leaves no files behind" is checked there, not in the shared /tmp. */
const replayCli = (text: string) => {
  const dir = mkdtempSync(join(tmpdir(), "lomi-fixture-"))
  const file = join(dir, "fixture.json")
  writeFileSync(file, text)
  const tmp = mkdtempSync(join(tmpdir(), "lomi-cli-tmp-"))
  const result = spawnSync(tsx, [join(root, "kernel/replay/cli.ts"), file], {
    encoding: "utf8",
    cwd: root,
    env: { ...process.env, TMPDIR: tmp }
  })
  return { ...result, tmp }
}

const problem = (fixture: unknown) => {
  const decoded = decodeFixture(typeof fixture === "string" ? fixture : JSON.stringify(fixture))
  return Either.isLeft(decoded) ? decoded.left : undefined
}

const doc = (at: string, id = "r1") => ({
  at,
  doc: { id, data: { status: "Data Ready", service: "Epi-Insight", patientId: "P1" } }
})

describe("make replay: bad fixtures", () => {
  it("invalid JSON exits non-zero with one line and prints nothing on stdout", () => {
    const result = replayCli("{ nope")
    expect(result.status).not.toBe(0)
    expect(result.stdout).toBe("")
    expect(result.stderr.trim().split("\n")).toHaveLength(1)
    expect(result.stderr).toContain("fixture is not valid JSON")
  })

  it("an unknown step kind names the step index", () => {
    const result = replayCli(JSON.stringify({ name: "x", steps: [doc("0s"), { at: "1m", explode: true }], until: "1h" }))
    expect(result.status).not.toBe(0)
    expect(result.stdout).toBe("")
    expect(result.stderr).toContain('steps[1]: unknown step kind "explode"')
  })

  it("a step that goes back in time names the step", () => {
    expect(problem({ name: "x", steps: [doc("1h"), doc("30m", "r2")], until: "2h" })).toBe(
      "steps[1].at: 30m goes back in time (previous step is later)"
    )
  })

  it("a command naming a document no step creates is refused before anything runs", () => {
    expect(problem({ name: "x", steps: [doc("0s"), { at: "1m", command: { name: "kill", doc: "ghost" } }], until: "1h" })).toBe(
      'steps[1].command: names document "ghost", which no earlier doc step creates'
    )
  })

  it("outcomes and firestore_fail_writes may arm a document a later step creates; patch and delete may not", () => {
    const armed = [
      { at: "0s", outcomes: { doc: "later", runs: [{ exit: 0, after: "1m" }] } },
      { at: "0s", firestore_fail_writes: { doc: "later", for: "5m" } },
      doc("1m", "later")
    ]
    expect(problem({ name: "x", steps: armed, until: "1h" })).toBeUndefined()
    expect(problem({ name: "x", steps: [{ at: "0s", patch: { id: "ghost", data: { status: "Failed" } } }], until: "1h" })).toBe(
      'steps[0].patch: names document "ghost", which no earlier doc step creates'
    )
    expect(problem({ name: "x", steps: [{ at: "0s", delete: "ghost" }], until: "1h" })).toBe(
      'steps[0].delete: names document "ghost", which no earlier doc step creates'
    )
  })

  it("a wrongly typed field names its path", () => {
    expect(
      problem({ name: "x", steps: [{ at: "0s", outcomes: { doc: "r1", runs: [{ exit: "zero", after: "1m" }] } }], until: "1h" })
    ).toMatch(/^steps\[0\]\.outcomes\.runs\[0\]/)
  })

  it("a bad duration, a step with two kinds, bad tunables and time zones are named", () => {
    expect(problem({ name: "x", steps: [{ at: "1 hour", replay: true }], until: "1h" })).toMatch(/^steps\[0\]\.at: expected a duration/)
    expect(problem({ name: "x", steps: [{ at: "0s", replay: true, crash: true }], until: "1h" })).toMatch(/^steps\[0\]: a step needs exactly one kind/)
    expect(problem({ name: "x", tunables: { MAX_RETRIES: 0 }, steps: [], until: "1h" })).toBe(
      "fixture.tunables.MAX_RETRIES: MAX_RETRIES must be between 1 and 100, got 0"
    )
    expect(problem({ name: "x", timezone: "Mars/Olympus", steps: [], until: "1h" })).toBe('fixture.timezone: unknown time zone "Mars/Olympus"')
    expect(problem({ name: "x", steps: [], until: "1h", extra: 1 })).toMatch(/^fixture\.extra: /)
  })

  it("a good fixture prints exactly one JSON document and leaves no files behind", () => {
    const result = replayCli(JSON.stringify({ name: "ok", steps: [doc("0s")], until: "1h" }))
    expect(result.status).toBe(0)
    const parsed = JSON.parse(result.stdout) as { name: string; snapshots: { final: { runs: Array<{ state: string }> } } }
    expect(parsed.name).toBe("ok")
    expect(parsed.snapshots.final.runs.map((r) => r.state)).toEqual(["succeeded"])
    // Its private TMPDIR holds no replay directory afterwards (tsx may keep its own cache there).
    expect(readdirSync(result.tmp).filter((f) => f.startsWith("lomi-replay-"))).toEqual([])
  })
})
