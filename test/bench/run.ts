/**
 * `make bench`: every benchmark, one after another (they share two cores),
 * each printing its own table with ratios against a baseline it measured in
 * the same run, then one summary table of every figure that has a target
 * (the lines each bench marked MET or MISSED), with the machine named.
 * Timings live here and never in tests: this machine is noisy.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { machine } from "./harness.ts"
import { table } from "./table.ts"

const here = fileURLToPath(new URL(".", import.meta.url))
const tsx = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url))
const all = ["replay.bench.ts", "startup.bench.ts", "throughput.bench.ts", "sandbox.bench.ts", "api.bench.ts", "ui.bench.ts", "slurm.bench.ts", "dashboard-load.bench.ts", "exechost.bench.ts"]
/** LOMI_BENCHES=a.bench.ts,b.bench.ts runs only those (make bench BENCHES=...). */
const benches = process.env.LOMI_BENCHES ? all.filter((b) => process.env.LOMI_BENCHES?.split(",").includes(b)) : all

/** A line that states a verdict: a table row or a sentence ending in MET / met / MISSED. */
const verdictOf = (line: string): "MET" | "MISSED" | undefined => {
  if (/\bMISSED\b/.test(line)) return "MISSED"
  if (/\bMET\b/.test(line) || /\|\s*met\s*\|\s*$/.test(line)) return "MET"
  return undefined
}

/** Runs one bench with its output passed through; resolves with its exit status and its verdict lines. */
const runBench = (file: string) =>
  new Promise<{ status: number | null; verdicts: Array<string> }>((resolve) => {
    const child = spawn(tsx, [file], { stdio: ["ignore", "pipe", "inherit"] })
    const verdicts: Array<string> = []
    let pending = ""
    let previous = ""
    child.stdout.on("data", (chunk: Buffer) => {
      process.stdout.write(chunk)
      pending += chunk.toString()
      const lines = pending.split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines) {
        // A table's header row names a "met" column: the separator under it says it was a header.
        if (/^\|\s*-/.test(line)) {
          if (verdicts.at(-1) === previous) verdicts.pop()
        } else if (verdictOf(line) !== undefined) verdicts.push(line)
        previous = line
      }
    })
    child.on("close", (status) => {
      if (verdictOf(pending) !== undefined) verdicts.push(pending)
      resolve({ status, verdicts })
    })
  })

const summary: Array<[string, string, string]> = []
let failed = 0
for (const bench of benches) {
  const file = `${here}${bench}`
  if (!existsSync(file)) continue
  process.stdout.write(`\n## ${bench}\n`)
  const { status, verdicts } = await runBench(file)
  if (status !== 0) {
    failed += 1
    summary.push([bench, `exited ${status} (a missed target or a failure: see its output above)`, "MISSED"])
  }
  for (const line of verdicts) {
    const text = line.replace(/^\|\s*|\s*\|\s*$/g, "").split(/\s*\|\s*/).filter((c) => c !== "").join(" · ")
    summary.push([bench, text, verdictOf(line) ?? ""])
  }
}
process.stdout.write(`\n## Summary: every figure with a target\n\n${machine()}\n\n`)
process.stdout.write(`${table(["bench", "figure (as the bench printed it)", "verdict"], summary)}\n`)
const missed = summary.filter((r) => r[2] === "MISSED").length
process.stdout.write(`\n${summary.length - missed} met, ${missed} missed\n`)
process.exit(failed === 0 ? 0 : 1)
