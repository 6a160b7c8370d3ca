/**
 * Replay speed: a generated month of history (1,000 documents over 30 virtual
 * days, mixed outcomes) against a baseline measured in the same run, an
 * empty 30-day fixture (the fixed cost of starting the replay CLI and letting
 * a month of daily cleanups pass). Target (issue 12): under 5 s wall, under 250 MB.
 *
 * What is measured is what a developer runs: `make -s replay FIXTURE=…`, a
 * whole process (make's up-to-date check, node starting the compiled CLI in
 * dist/, the replay, the JSON on stdout), timed from outside. CPU and peak
 * RSS come from GNU time (`/usr/bin/time`): the CPU of the whole process
 * tree, and the peak RSS of its largest process (the replay). Rounds are
 * interleaved (baseline, 100, 1,000, then again) and medians reported, so a
 * burst of load from elsewhere lands on one round, not on one scenario.
 * (`-o node_modules/.installed`: make bench has run deps; a timed run never runs npm ci.)
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { generateScenario } from "../../kernel/replay/generate.ts"
import { machine, median } from "./harness.ts"
import { ms, ratio, table } from "./table.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))
const GNU_TIME = "/usr/bin/time"
const ROUNDS = Number(process.env.LOMI_REPLAY_BENCH_ROUNDS ?? 3)
const WALL_TARGET_MS = 5_000
const RSS_TARGET_MB = 250

if (!existsSync(GNU_TIME)) {
  process.stderr.write(`replay bench: ${GNU_TIME} is missing (Debian package "time"); it measures the CPU and peak RSS of make replay\n`)
  process.exit(1)
}

interface Measured {
  readonly wall: number
  readonly cpu: number
  readonly peakMb: number
  readonly events: number
}

const dir = mkdtempSync(join(tmpdir(), "lomi-replay-bench-"))
const fixtureFile = (name: string, fixture: unknown) => {
  const file = join(dir, `${name}.json`)
  writeFileSync(file, JSON.stringify(fixture))
  return file
}

/** What scripts/build.mjs prints when make rebuilt the CLI: a run that did so timed esbuild too. */
const REBUILT = /^built .* into dist\//m

/** One `make -s replay` under GNU time; its stdout is the result, its figures go to a file of their own. */
const replayOnce = (fixture: string) =>
  new Promise<Measured & { readonly rebuilt: boolean }>((resolve, reject) => {
    const out = join(dir, "result.json")
    const figures = join(dir, "time.txt")
    const started = performance.now()
    const child = spawn(GNU_TIME, ["-o", figures, "-f", "%U %S %M", "make", "-s", "--no-print-directory", "-o", "node_modules/.installed", "replay", `FIXTURE=${fixture}`], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"]
    })
    const chunks: Array<Buffer> = []
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
      process.stderr.write(chunk)
    })
    child.on("error", reject)
    child.on("close", (status) => {
      const wall = performance.now() - started
      if (status !== 0) return reject(new Error(`make replay FIXTURE=${fixture} exited ${status}`))
      writeFileSync(out, Buffer.concat(chunks))
      const [user = "", system = "", maxKb = ""] = readFileSync(figures, "utf8").trim().split("\n").at(-1)?.split(" ") ?? []
      const result = JSON.parse(readFileSync(out, "utf8")) as { trace: ReadonlyArray<unknown> }
      resolve({ wall, cpu: (Number(user) + Number(system)) * 1000, peakMb: Number(maxKb) / 1024, events: result.trace.length, rebuilt: REBUILT.test(stderr) })
    })
  })

/** Someone editing a kernel source mid-bench makes make rebuild the CLI inside a timed run: that run is taken again. */
const replayMeasured = async (fixture: string): Promise<Measured> => {
  for (let attempt = 1; ; attempt++) {
    const { rebuilt, ...measured } = await replayOnce(fixture)
    if (!rebuilt) return measured
    if (attempt === 3) throw new Error("make rebuilt the replay CLI in three runs in a row: sources are changing under the bench")
  }
}

const scenarios = [
  { label: "baseline: empty 30 days", file: fixtureFile("empty", { name: "empty month", steps: [], until: "30d" }) },
  { label: "100 docs / 30 days", file: fixtureFile("docs-100", generateScenario({ documents: 100, days: 30 })) },
  { label: "1,000 docs / 30 days", file: fixtureFile("docs-1000", generateScenario({ documents: 1000, days: 30 })) }
] as const

try {
  // Not measured: brings the compiled CLI up to date (make builds it when a source changed), writes its V8 code
  // cache (as any first run after a build does) and warms the file cache.
  const warm = spawnSync("make", ["-s", "--no-print-directory", "-o", "node_modules/.installed", "replay", `FIXTURE=${scenarios[0].file}`], { cwd: root, stdio: ["ignore", "ignore", "inherit"] })
  if (warm.status !== 0) throw new Error(`make replay (warm-up) exited ${warm.status}`)

  const runs: Array<Array<Measured>> = scenarios.map(() => [])
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, scenario] of scenarios.entries()) runs[i]?.push(await replayMeasured(scenario.file))
  }
  const summary = runs.map((rs) => ({
    wall: median(rs.map((r) => r.wall)),
    cpu: median(rs.map((r) => r.cpu)),
    peakMb: Math.max(...rs.map((r) => r.peakMb)),
    events: rs[0]?.events ?? 0
  }))
  const [baseline, small, full] = summary
  if (baseline === undefined || small === undefined || full === undefined) throw new Error("a scenario was not measured")
  const verdict = (ok: boolean) => (ok ? "MET" : "MISSED")

  process.stdout.write(
    `\n### Replay speed (make -s replay: the compiled CLI, whole process, median of ${ROUNDS} interleaved rounds)\n\nmachine: ${machine()}\n\n`
  )
  process.stdout.write(
    table(
      ["scenario", "wall ms", "CPU ms", "peak RSS MB", "trace events", "wall vs baseline", "target", "result"],
      [
        [scenarios[0].label, ms(baseline.wall), ms(baseline.cpu), baseline.peakMb.toFixed(0), baseline.events, "1.00x", "", ""],
        [scenarios[1].label, ms(small.wall), ms(small.cpu), small.peakMb.toFixed(0), small.events, ratio(small.wall, baseline.wall), "", ""],
        [scenarios[2].label, ms(full.wall), ms(full.cpu), full.peakMb.toFixed(0), full.events, ratio(full.wall, baseline.wall), "< 5,000 ms", verdict(full.wall < WALL_TARGET_MS)],
        ["peak RSS of the 1,000-doc replay (MB)", "", "", full.peakMb.toFixed(0), "", ratio(full.peakMb, baseline.peakMb), "< 250 MB", `${full.peakMb.toFixed(0)} MB ${verdict(full.peakMb < RSS_TARGET_MB)}`]
      ]
    ) + "\n"
  )
} finally {
  rmSync(dir, { recursive: true, force: true })
}
