/**
 * The execution host's per-job cost against raw spawns of the same no-op
 * script (`bash noop.sh <doc> <patient> <service>`), interleaved in one run,
 * at concurrency 1, 2 and 4 (MAX_WORKERS), medians of 3 rounds (issue 12):
 *
 * - raw spawn: `child_process.spawn` of the script from a small node process of its own
 *   (test/bench/rawRun.mjs, as issue 12 measured it; its own wall time, node's start-up excluded);
 * - host, plain: Start → exit event → Acknowledge through a real host (its own process, compiled
 *   with scripts/build.mjs as in production) over the socket: fork server, monitor, exit synced in its slot;
 *   target ≥ 0.9x raw spawn;
 * - raw bwrap: `bwrap` (rawRun.mjs's jail options) around the script, the same way;
 * - host, sandboxed: the same through the sandbox launcher (overlay, lomi-enter, bwrap, commit check);
 *   target ≥ 0.9x raw bwrap.
 *
 * Also the host's CPU per job (its /proc utime+stime over the host rows), its RSS at rest, after all
 * the jobs and at its peak (the host runs with the launcher's V8 flags, v8flags.ts), and the event-loop
 * cost of starting one monitor from a process with an extra 256 MiB of heap: `child_process.spawn`
 * (forks the whole heap) against a request to the fork server (spawnMonitor.ts).
 *
 *   BENCH_EXECHOST_N=60 npx tsx test/bench/exechost.bench.ts   (default 100: ~3 min idle, ~5 min at load 5)
 */
import { execFileSync, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Logger, LogLevel } from "effect"
import { makeMonitorSpawner } from "../../kernel/exechost/spawnMonitor.ts"
import { HOST_V8_FLAGS } from "../../kernel/exechost/v8flags.ts"
import { clientOf, hostProcess, MONITOR, specFor, tempRoot, writeConfig } from "../exechost/support.ts"
import { ratio, table } from "./table.ts"

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const N = Number(process.env.BENCH_EXECHOST_N ?? "100")
const ROUNDS = 3
const TARGET = 0.9

const waitExit = (command: string, args: ReadonlyArray<string>) =>
  new Promise<void>((resolve, reject) => {
    const child = spawn(command, [...args], { stdio: "ignore" })
    child.on("error", reject)
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}`))))
  })

const pool = async (n: number, concurrency: number, job: (i: number) => Promise<void>) => {
  let next = 0
  const worker = async () => {
    while (next < n) await job(next++)
  }
  const start = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  return performance.now() - start
}

/** A /proc/<pid>/status memory figure (VmRSS, VmHWM), in MiB. */
const statusMiB = (pid: number, field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "0") / 1024

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

/** utime + stime of a process, in ms. */
const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? []
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
}

/** Median event-loop time of starting one monitor: `start` is called synchronously, its promise not awaited. */
const blockMs = async (count: number, start: (runDir: string) => Promise<unknown>) => {
  const dir = mkdtempSync(join(tmpdir(), "lomi-spawncost-"))
  const samples: Array<number> = []
  const started: Array<Promise<unknown>> = []
  for (let i = 0; i < count; i++) {
    const runDir = join(dir, String(i))
    mkdirSync(runDir)
    const t0 = performance.now()
    started.push(start(runDir))
    samples.push(performance.now() - t0)
    await new Promise((r) => setTimeout(r, 5))
  }
  await Promise.all(started)
  rmSync(dir, { recursive: true, force: true })
  return median(samples)
}

const program = Effect.gen(function* () {
  const t = yield* tempRoot
  const configFile = join(t.root, "config.json")
  yield* writeConfig(t.config, configFile)
  execFileSync(process.execPath, [join(ROOT, "scripts", "build.mjs"), "kernel/exechost/main.ts"], { cwd: ROOT, stdio: "ignore" })
  // Started as the launcher starts it: compiled, with the production V8 flags.
  const host = yield* hostProcess(configFile, t.config.dataDir, [...HOST_V8_FLAGS, join(ROOT, "dist", "kernel", "exechost", "main.js")])
  const plainClient = yield* clientOf(t.config)
  const sandboxClient = yield* clientOf(t.config, true)
  // Outside /tmp, so raw bwrap (a private /tmp) reaches it as the sandbox does.
  const noop = join(ROOT, "fixtures", "pipelines", "test", "noop.sh")
  /** rawRun.mjs's own figure: n runs of the script at that concurrency, in ms. */
  const rawRun = (mode: "spawn" | "bwrap", concurrency: number) => {
    const out = execFileSync(process.execPath, [join(ROOT, "test", "bench", "rawRun.mjs"), mode, String(N), String(concurrency), noop], { encoding: "utf8" })
    const last = JSON.parse(out.trim().split("\n").pop() ?? "{}") as { ms?: number }
    if (last.ms === undefined) throw new Error(`rawRun.mjs ${mode}: no figure in ${out}`)
    return last.ms
  }
  let runId = 1
  const hostCpu = { plain: 0, sandboxed: 0 }
  const hostJobs = { plain: 0, sandboxed: 0 }
  const hostJob = (sandbox: boolean) => () => {
    const client = sandbox ? sandboxClient : plainClient
    return Effect.runPromise(
      Effect.gen(function* () {
        const id = runId++
        yield* client.start({ ...specFor(t, id), script: noop })
        const exit = yield* client.awaitExit(id)
        if (exit._tag !== "Exited" || exit.exit.code !== 0 || exit.exit.errorMessage !== undefined) return yield* Effect.dieMessage(`run ${id}: ${JSON.stringify(exit)}`)
        yield* client.acknowledge(id)
      })
    )
  }
  /** A pool of host jobs, with the host's CPU over it. */
  const hostPool = (sandbox: boolean, concurrency: number) => {
    const before = cpuMs(host.pid)
    return pool(N, concurrency, hostJob(sandbox)).then((ms) => {
      hostCpu[sandbox ? "sandboxed" : "plain"] += cpuMs(host.pid) - before
      hostJobs[sandbox ? "sandboxed" : "plain"] += N
      return ms
    })
  }

  // Warm-up: the first sandboxed Start checks bwrap; page cache for everything.
  for (const job of [hostJob(false), hostJob(true)]) yield* Effect.promise(() => pool(5, 1, job))
  rawRun("spawn", 1)
  rawRun("bwrap", 1)
  const rssAtRestMiB = statusMiB(host.pid, "VmRSS")
  Object.assign(hostCpu, { plain: 0, sandboxed: 0 })
  Object.assign(hostJobs, { plain: 0, sandboxed: 0 })

  const rows: Array<Array<string>> = []
  const verdicts: Array<boolean> = []
  const verdict = (value: number, base: number) => {
    const met = value / base >= TARGET
    verdicts.push(met)
    return `≥ ${TARGET.toFixed(1)}x: ${met ? "MET" : "MISSED"}`
  }
  for (const concurrency of [1, 2, 4]) {
    const f = { raw: [] as Array<number>, plain: [] as Array<number>, bwrap: [] as Array<number>, sandbox: [] as Array<number> }
    for (let round = 0; round < ROUNDS; round++) {
      const rate = (ms: number) => N / (ms / 1000)
      f.raw.push(rate(rawRun("spawn", concurrency)))
      f.plain.push(rate(yield* Effect.promise(() => hostPool(false, concurrency))))
      f.bwrap.push(rate(rawRun("bwrap", concurrency)))
      f.sandbox.push(rate(yield* Effect.promise(() => hostPool(true, concurrency))))
    }
    const [raw, plain, bwrap, sandbox] = [median(f.raw), median(f.plain), median(f.bwrap), median(f.sandbox)]
    rows.push([`raw spawn, concurrency ${concurrency}`, raw.toFixed(1), "1.00x", ""])
    rows.push([`host, plain (Start→exit→ack), concurrency ${concurrency}`, plain.toFixed(1), ratio(plain, raw), verdict(plain, raw)])
    rows.push([`raw bwrap spawn, concurrency ${concurrency}`, bwrap.toFixed(1), "1.00x", ""])
    rows.push([`host, sandboxed (Start→exit→ack), concurrency ${concurrency}`, sandbox.toFixed(1), ratio(sandbox, bwrap), verdict(sandbox, bwrap)])
  }
  const rssMiB = statusMiB(host.pid, "VmRSS")
  const peakMiB = statusMiB(host.pid, "VmHWM")
  const jobs = hostJobs.plain + hostJobs.sandboxed + 10
  rows.push(["execution host RSS at rest, after 10 warm-up jobs (MiB)", rssAtRestMiB.toFixed(1), "", `< 80: ${rssAtRestMiB < 80 ? "MET" : "MISSED"}`])
  rows.push([`execution host RSS after ${jobs} jobs (MiB)`, rssMiB.toFixed(1), "", `< 80: ${rssMiB < 80 ? "MET" : "MISSED"}`])
  rows.push([`execution host peak RSS over ${jobs} jobs (VmHWM, MiB)`, peakMiB.toFixed(1), "", ""])
  verdicts.push(rssAtRestMiB < 80, rssMiB < 80)
  rows.push(["execution host CPU per plain job (ms)", (hostCpu.plain / Math.max(1, hostJobs.plain)).toFixed(2), "", ""])
  rows.push(["execution host CPU per sandboxed job (ms)", (hostCpu.sandboxed / Math.max(1, hostJobs.sandboxed)).toFixed(2), "", ""])

  const ballast = Array.from({ length: 256 }, () => Buffer.alloc(1024 * 1024, 1))
  const nodeSpawn = yield* Effect.promise(() =>
    blockMs(60, (runDir) => waitExit(MONITOR, [runDir, join(runDir, "log"), "0", "3000", "--", "true"]))
  )
  const served = yield* Effect.scoped(
    Effect.gen(function* () {
      const spawner = yield* makeMonitorSpawner(MONITOR)
      return yield* Effect.promise(() =>
        blockMs(60, (runDir) =>
          Effect.runPromise(
            spawner.spawn({ monitorPath: MONITOR, runDir, logFile: join(runDir, "log"), graceMs: 3000, launch: { command: "true", args: [], env: {} } })
          )
        )
      )
    })
  )
  rows.push([`event loop blocked per monitor start, +${ballast.length} MiB heap: child_process.spawn (ms)`, nodeSpawn.toFixed(2), "1.00x", ""])
  rows.push(["same, a request to the fork server (ms)", served.toFixed(3), ratio(served, nodeSpawn), ""])
  const cpuUse = process.cpuUsage()
  process.stdout.write(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), load ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end; ` +
      `N=${N} jobs per figure, medians of ${ROUNDS} rounds; bench driver CPU ${((cpuUse.user + cpuUse.system) / 1000).toFixed(0)} ms\n`
  )
  process.stdout.write(`${table(["figure", "jobs/s (or as named)", "vs baseline", "target"], rows)}\n`)
  process.stdout.write(`${verdicts.every(Boolean) ? "all targets MET" : `${verdicts.filter((v) => !v).length} target(s) MISSED`}\n`)
})

Effect.runPromise(Effect.scoped(program).pipe(Logger.withMinimumLogLevel(LogLevel.Warning))).catch((e: unknown) => {
  process.stderr.write(`exechost bench failed: ${String(e)}\n`)
  process.exit(1)
})
