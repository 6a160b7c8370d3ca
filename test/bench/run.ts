/**
 * `make bench`: every benchmark, one after another (they share two cores),
 * each printing its own table with ratios against a baseline it measured in
 * the same run. Timings live here and never in tests: this machine is noisy.
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

const here = fileURLToPath(new URL(".", import.meta.url))
const tsx = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url))
const benches = ["replay.bench.ts", "startup.bench.ts", "throughput.bench.ts", "sandbox.bench.ts", "api.bench.ts", "ui.bench.ts", "slurm.bench.ts", "dashboard-load.bench.ts", "exechost.bench.ts"]

let failed = 0
for (const bench of benches) {
  const file = `${here}${bench}`
  if (!existsSync(file)) continue
  process.stdout.write(`\n## ${bench}\n`)
  const result = spawnSync(tsx, [file], { stdio: "inherit" })
  if (result.status !== 0) failed += 1
}
process.exit(failed === 0 ? 0 : 1)
