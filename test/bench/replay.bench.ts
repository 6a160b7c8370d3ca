/**
 * Replay speed: a generated month of history (1,000 documents over 30 virtual
 * days, mixed outcomes) against a baseline measured in the same run, an
 * empty 30-day fixture (the fixed cost of starting an allocator and letting
 * a month of daily cleanups pass). Target (issue 12): under 5 s wall, under 250 MB.
 */
import { availableParallelism, loadavg } from "node:os"
import { Effect, Either, Logger, LogLevel } from "effect"
import { decodeFixture } from "../../schemas/fixture.ts"
import { replay } from "../../kernel/replay/driver.ts"
import { generateScenario } from "../../kernel/replay/generate.ts"
import { ms, ratio, table } from "./table.ts"

const run = async (fixture: unknown) => {
  const decoded = decodeFixture(JSON.stringify(fixture))
  if (Either.isLeft(decoded)) throw new Error(decoded.left)
  const cpu0 = process.cpuUsage()
  const started = performance.now()
  const result = await Effect.runPromise(replay(decoded.right).pipe(Logger.withMinimumLogLevel(LogLevel.None)))
  const cpu = process.cpuUsage(cpu0)
  return { wall: performance.now() - started, cpu: (cpu.user + cpu.system) / 1000, events: result.trace.length }
}

const empty = { name: "empty month", steps: [], until: "30d" }
const baseline = await run(empty)
const small = await run(generateScenario({ documents: 100, days: 30 }))
const full = await run(generateScenario({ documents: 1000, days: 30 }))
const peakMb = process.resourceUsage().maxRSS / 1024
const verdict = (ok: boolean) => (ok ? "MET" : "MISSED")

process.stdout.write(`\n### Replay speed (in process, after start-up)\n\nmachine: ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}\n\n`)
process.stdout.write(
  table(
    ["scenario", "wall ms", "CPU ms", "trace events", "wall vs baseline", "target", "result"],
    [
      ["baseline: empty 30 days", ms(baseline.wall), ms(baseline.cpu), baseline.events, "1.00x", "", ""],
      ["100 docs / 30 days", ms(small.wall), ms(small.cpu), small.events, ratio(small.wall, baseline.wall), "", ""],
      ["1,000 docs / 30 days", ms(full.wall), ms(full.cpu), full.events, ratio(full.wall, baseline.wall), "< 5,000 ms", verdict(full.wall < 5_000)],
      ["peak RSS of the whole run (MB)", "", "", "", "", "< 250 MB", `${peakMb.toFixed(0)} MB ${verdict(peakMb < 250)}`]
    ]
  ) + "\n"
)
