/**
 * The execution host's per-job cost, interleaved in one run (N no-op jobs,
 * `bash -c 'exit 0'`, at concurrency 1 and 4, medians of 3 rounds):
 *
 * - raw: `child_process.spawn` of the script from this process (the baseline, as issue 12 measures it);
 * - monitor: the same spawn through `.build/lomi-monitor` (own session, group, fsynced exit file), waiting for the exit file;
 * - host: Start → exit event → Acknowledge through a real host (its own process, compiled with
 *   scripts/build.mjs as in production) and its client over the socket.
 *
 * Also the event-loop cost of one `spawn` of the monitor (synchronous part) in a small process and with
 * an extra 256 MiB of heap, to show spawning from the host does not depend on the kernel's heap.
 */
import { execFileSync, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { clientOf, hostProcess, MONITOR, specFor, tempRoot, writeConfig } from "../exechost/support.ts"
import { ms, ratio, table } from "./table.ts"

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const N = Number(process.env.BENCH_EXECHOST_N ?? "200")
const ROUNDS = 3

const waitExit = (command: string, args: ReadonlyArray<string>) =>
  new Promise<void>((resolve, reject) => {
    const child = spawn(command, [...args], { stdio: "ignore", detached: true })
    child.on("error", reject)
    child.on("exit", () => resolve())
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

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

const rawJob = () => waitExit("bash", ["-c", "exit 0"])

const monitorJob = (dir: string) => (i: number) => {
  const runDir = join(dir, String(i))
  mkdirSync(runDir, { recursive: true })
  return waitExit(MONITOR, [runDir, join(runDir, "log"), "0", "3000", "--", "bash", "-c", "exit 0"]).then(() => {
    if (!existsSync(join(runDir, "exit"))) throw new Error(`no exit file in ${runDir}`)
  })
}

const spawnBlockMs = (count: number) => {
  const dir = mkdtempSync(join(tmpdir(), "lomi-spawncost-"))
  const samples: Array<number> = []
  for (let i = 0; i < count; i++) {
    const runDir = join(dir, String(i))
    mkdirSync(runDir)
    const t0 = performance.now()
    const child = spawn(MONITOR, [runDir, join(runDir, "log"), "0", "3000", "--", "true"], { stdio: "ignore", detached: true })
    samples.push(performance.now() - t0)
    child.unref()
  }
  rmSync(dir, { recursive: true, force: true })
  return median(samples)
}

const program = Effect.gen(function* () {
  const t = yield* tempRoot
  const configFile = join(t.root, "config.json")
  yield* writeConfig(t.config, configFile)
  execFileSync(process.execPath, [join(ROOT, "scripts", "build.mjs"), "kernel/exechost/main.ts"], { cwd: ROOT, stdio: "ignore" })
  const host = yield* hostProcess(configFile, t.config.dataDir, [join(ROOT, "dist", "kernel", "exechost", "main.js")])
  const client = yield* clientOf(t.config)
  let runId = 1
  const hostJob = (script: string) => () =>
    Effect.runPromise(
      Effect.gen(function* () {
        const id = runId++
        yield* client.start({ ...specFor(t, id), script })
        yield* client.awaitExit(id)
        yield* client.acknowledge(id)
      })
    )
  const noop = join(t.root, "bin", "noop.sh")
  yield* Effect.promise(() => import("node:fs/promises").then((fs) => fs.writeFile(noop, "exit 0\n")))

  const rows: Array<Array<string | number>> = []
  for (const concurrency of [1, 4]) {
    const figures = { raw: [] as Array<number>, monitor: [] as Array<number>, host: [] as Array<number> }
    for (let round = 0; round < ROUNDS; round++) {
      const dir = mkdtempSync(join(tmpdir(), "lomi-monbench-"))
      figures.raw.push(N / ((yield* Effect.promise(() => pool(N, concurrency, rawJob))) / 1000))
      figures.monitor.push(N / ((yield* Effect.promise(() => pool(N, concurrency, monitorJob(dir)))) / 1000))
      figures.host.push(N / ((yield* Effect.promise(() => pool(N, concurrency, hostJob(noop)))) / 1000))
      rmSync(dir, { recursive: true, force: true })
    }
    const raw = median(figures.raw)
    rows.push([`raw spawn, concurrency ${concurrency}`, ms(raw), "1.00x"])
    rows.push([`monitor (spawn + fsynced exit), concurrency ${concurrency}`, ms(median(figures.monitor)), ratio(median(figures.monitor), raw)])
    rows.push([`host Start→exit→ack over the socket, concurrency ${concurrency}`, ms(median(figures.host)), ratio(median(figures.host), raw)])
  }
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${host.pid}/status`, "utf8"))?.[1] ?? "0")
  rows.push([`execution host RSS after ${N * ROUNDS * 2} jobs (MiB; target < 80)`, (rssKiB / 1024).toFixed(1), ""])
  const small = spawnBlockMs(100)
  const ballast = Array.from({ length: 256 }, () => Buffer.alloc(1024 * 1024, 1))
  const big = spawnBlockMs(100)
  rows.push(["event loop blocked per monitor spawn, small process (ms, median)", small.toFixed(2), "1.00x"])
  rows.push([`same with +${ballast.length} MiB heap (ms, median)`, big.toFixed(2), ratio(big, small)])
  process.stdout.write(`machine: ${(yield* Effect.promise(() => import("node:os"))).cpus().length} cores, load ${(yield* Effect.promise(() => import("node:os"))).loadavg()[0]?.toFixed(1)}; N=${N}, medians of ${ROUNDS} rounds\n`)
  process.stdout.write(`${table(["figure", "jobs/s (or ms)", "vs raw spawn"], rows)}\n`)
})

Effect.runPromise(Effect.scoped(program).pipe(Effect.provide(Layer.empty), Logger.withMinimumLogLevel(LogLevel.Warning))).catch((e: unknown) => {
  process.stderr.write(`exechost bench failed: ${String(e)}\n`)
  process.exit(1)
})
