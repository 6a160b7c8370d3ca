/**
 * The allocator end to end, against baselines measured in the same run:
 * Data Ready reports written to a Firestore emulator (the project's own
 * embedded emulator, run here in the bench's process so the allocator's
 * memory is its own), picked up by the real listener of the compiled
 * allocator started by its launcher (`dist/kernel/launch.js`, so the
 * execution host and the dashboard server are measured when they are
 * built), each running a no-op pipeline.
 *
 *   npx tsx test/bench/throughput.bench.ts [--quick] [--reports 2000] [--baseline-jobs 500] [--latency-reports 100]
 *     [--history 100000] [--only-case N]   (LOMI_BENCH_CPU_PROF=dir: CPU profiles; LOMI_BENCH_KEEP=1: keep the data)
 *
 * Baselines (each in a small process of its own, test/bench/rawRun.mjs):
 * raw `spawn` of the same script, raw `bwrap` spawn of it, and BullMQ +
 * Redis (a redis-server started here on a free loopback port) spawning it,
 * plain and inside bwrap (the sandboxed cases are compared with the latter).
 * Each case's two baselines run just before it, so a ratio compares runs
 * a minute apart, not the first minute of the bench with its last.
 * Cases: sandbox off (MAX_WORKERS 1: the allocator runs one worker without
 * the sandbox, whatever MAX_WORKERS says) and sandbox on with 1, 2 and 4.
 * Kernel figures come from a probe preloaded into every allocator process
 * (test/bench/probe.mjs): CPU time, event-loop delay in the burst, RSS.
 * Prints one table; a missed target says MISSED.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Exit, Logger, LogLevel, ManagedRuntime, Schema, Scope } from "effect"
import type { Firestore } from "firebase-admin/firestore"
import { acquireFirestore } from "../../kernel/firestore/admin-app.ts"
import { startEmbeddedEmulator } from "../../kernel/firestore/embedded.ts"
import { databaseLayer } from "../../kernel/store/database.ts"
import { SqlClient } from "@effect/sql"
import { ms, ratio, table } from "./table.ts"
import { benchConfig, freePort, machine, percentile, readProbe, sleep, waitFor, type ProbeStats } from "./harness.ts"

const argNumber = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1] ?? fallback) : fallback
}
// Issue 12's sizes: 2,000 reports per case and 500 jobs per baseline (--quick: 500 and 200, for a look while working).
const QUICK = process.argv.includes("--quick")
const REPORTS = argNumber("--reports", QUICK ? 500 : 2000)
const BASELINE_JOBS = argNumber("--baseline-jobs", QUICK ? 200 : 500)
const LATENCY_REPORTS = argNumber("--latency-reports", 100)
const HISTORY_ROWS = argNumber("--history", 100_000)

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const SCRIPT = path.join(repo, "fixtures/pipelines/test/noop-stamp.sh")
const LAUNCHER = path.join(repo, "dist/kernel/launch.js")
const PROBE = path.join(repo, "test/bench/probe.mjs")
const IDLE = path.join(repo, "test/bench/idle.mjs")
const MiB = 1024 * 1024

const root = mkdtempSync(path.join(os.tmpdir(), "lomi-throughput-"))
const children: Array<ChildProcess> = []
const cleanup = () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
  if (process.env.LOMI_BENCH_KEEP === "1") process.stderr.write(`kept ${root}\n`)
  else rmSync(root, { recursive: true, force: true })
}
process.on("SIGINT", () => {
  cleanup()
  process.exit(130)
})

// ---------------------------------------------------------------- baselines

const runRaw = (mode: "spawn" | "bwrap" | "bullmq" | "bullmq-bwrap", jobs: number, concurrency: number, redisPort?: number) =>
  new Promise<number>((resolve, reject) => {
    const args = [path.join(repo, "test/bench/rawRun.mjs"), mode, String(jobs), String(concurrency), SCRIPT]
    if (redisPort !== undefined) args.push(String(redisPort))
    const child = spawn(process.execPath, args, { cwd: repo, stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    child.on("exit", (code) => {
      const last = out.trim().split("\n").pop() ?? ""
      if (code !== 0) return reject(new Error(`${mode} baseline exited ${code}`))
      const parsed = JSON.parse(last) as { jobs: number; ms: number }
      resolve((parsed.jobs / parsed.ms) * 1000)
    })
  })

const startRedis = async () => {
  const port = await freePort()
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  children.push(child)
  let out = ""
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()))
  await waitFor("redis-server", 20_000, () => (out.includes("Ready to accept connections") ? true : undefined))
  return { port, stop: () => child.kill("SIGTERM") }
}

// ---------------------------------------------------------------- the allocator

/** A fresh data dir: tunables written before the first start, optional history rows. */
const prepare = async (name: string, tunables: { sandbox: 0 | 1; maxWorkers: number }, historyRows: number) => {
  const dir = path.join(root, name)
  const dataDir = path.join(dir, "data")
  mkdirSync(dataDir, { recursive: true })
  for (const sub of ["patient-base", "user-data", "scratch"]) {
    for (let p = 0; p < 20; p++) mkdirSync(path.join(dataDir, sub === "scratch" ? sub : path.join(sub, `P${p}`)), { recursive: true })
  }
  const dbFile = path.join(dataDir, "allocator.db")
  const now = new Date().toISOString()
  await Effect.runPromise(
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO tunables (key, value, updated_at, updated_by) VALUES ('SANDBOX_ENABLED', ${tunables.sandbox}, ${now}, 'bench'),
        ('MAX_WORKERS', ${tunables.maxWorkers}, ${now}, 'bench')`
      // Succeeded history, finished now (so no retention cleanup removes it during the run).
      yield* sql`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ${historyRows})
        INSERT INTO job_runs (doc_id, service, patient_id, patient_name, collection_date, state, attempt,
          scheduled_run_at, started_at, finished_at, exit_code, created_at, updated_at)
        SELECT 'hist-' || i, 'Epi-Insight', 'P' || (i % 20), 'History Patient', '2026-01-01', 'succeeded', 1,
          ${now}, ${now}, ${now}, 0, ${now}, ${now} FROM n WHERE ${historyRows} > 0`
    }).pipe(Effect.provide(databaseLayer(dbFile)), Effect.orDie, Logger.withMinimumLogLevel(LogLevel.None))
  )
  return { dir, dataDir, dbFile }
}

const Ended = Schema.Array(
  Schema.Struct({ ok: Schema.NullOr(Schema.Number), bad: Schema.NullOr(Schema.Number), rows: Schema.Number })
)

/** The bench's own read-only connection to an allocator's database. */
const reader = (dbFile: string) => {
  const runtime = ManagedRuntime.make(SqliteClient.layer({ filename: dbFile, readonly: true }))
  const countEnded = (prefix: string) =>
    runtime.runPromise(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const rows = yield* Effect.flatMap(
          sql`SELECT SUM(state = 'succeeded') AS ok,
              SUM(state NOT IN ('succeeded', 'queued', 'running', 'received', 'waiting_cooldown')) AS bad, COUNT(*) AS rows
            FROM job_runs WHERE doc_id LIKE ${`${prefix}-%`}`,
          Schema.decodeUnknown(Ended)
        )
        return { ok: rows[0]?.ok ?? 0, bad: rows[0]?.bad ?? 0, rows: rows[0]?.rows ?? 0 }
      }).pipe(Effect.orDie)
    )
  /** When each run's row was inserted and claimed (epoch ms), by document, for the latency's stages. */
  const rowTimes = (prefix: string) =>
    runtime.runPromise(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const rows = yield* Effect.flatMap(
          sql`SELECT doc_id, created_at, started_at FROM job_runs WHERE doc_id LIKE ${`${prefix}-%`} AND attempt = 1`,
          Schema.decodeUnknown(RowTimes)
        )
        return new Map(rows.map((r) => [r.doc_id, { inserted: Date.parse(r.created_at), claimed: r.started_at === null ? Number.NaN : Date.parse(r.started_at) }]))
      }).pipe(Effect.orDie)
    )
  return { countEnded, rowTimes, close: () => runtime.dispose() }
}

const RowTimes = Schema.Array(Schema.Struct({ doc_id: Schema.String, created_at: Schema.String, started_at: Schema.NullOr(Schema.String) }))

interface Started {
  readonly launcher: ChildProcess
  /** An idle process with the probe: the machine's own timer lateness, beside the kernel's. */
  readonly idle: ChildProcess
  readonly probeDir: string
  readonly stampsFile: string
  readonly db: ReturnType<typeof reader>
  readonly projectId: string
  readonly startupMs: number
}

let projectCounter = 0
/** The running allocator's last output, shown when the bench fails. */
let lastStderr = () => ""

const startAllocator = async (
  name: string,
  emulatorHost: string,
  tunables: { sandbox: 0 | 1; maxWorkers: number },
  historyRows = 0
): Promise<Started> => {
  const { dir, dataDir, dbFile } = await prepare(name, tunables, historyRows)
  const projectId = `bench-${++projectCounter}`
  const probeDir = path.join(dir, "probe")
  mkdirSync(probeDir)
  const stampsFile = path.join(dir, "stamps.txt")
  const httpPort = await freePort()
  const config = await benchConfig({ repo, dataDir, projectId, httpPort, script: SCRIPT })
  const configFile = path.join(dir, "config.json")
  writeFileSync(configFile, JSON.stringify(config, null, 2))
  const began = performance.now()
  // LOMI_BENCH_CPU_PROF=<dir>: every allocator process writes a V8 CPU profile there when it stops.
  const profile = process.env.LOMI_BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.LOMI_BENCH_CPU_PROF}`] : []
  const launcher = spawn(process.execPath, ["--import", PROBE, ...profile, LAUNCHER, configFile], {
    cwd: repo,
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...process.env,
      FIRESTORE_EMULATOR_HOST: emulatorHost,
      LOMI_BENCH_PROBE_DIR: probeDir,
      LOMI_BENCH_STAMPS: stampsFile
    }
  })
  children.push(launcher)
  const idle = spawn(process.execPath, ["--import", PROBE, IDLE], {
    cwd: repo,
    stdio: "ignore",
    env: { ...process.env, LOMI_BENCH_PROBE_DIR: probeDir }
  })
  children.push(idle)
  let stderr = ""
  launcher.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  lastStderr = () => stderr
  await waitFor(`/readyz of ${name}`, 120_000, async () => {
    if (launcher.exitCode !== null) throw new Error(`allocator exited ${launcher.exitCode}: ${stderr}`)
    try {
      const r = await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(1000) })
      return r.ok ? true : undefined
    } catch {
      return undefined
    }
  })
  const startupMs = performance.now() - began
  await waitFor("the kernel probe", 10_000, () => readProbe(probeDir, "kernel"))
  return { launcher, idle, probeDir, stampsFile, db: reader(dbFile), projectId, startupMs }
}

const stopAllocator = async (s: Started) => {
  await s.db.close()
  s.idle.kill("SIGTERM")
  s.launcher.kill("SIGINT")
  await waitFor("the allocator to stop", 60_000, () => (s.launcher.exitCode !== null || s.launcher.signalCode !== null ? true : undefined)).catch(
    () => s.launcher.kill("SIGKILL")
  )
}

/** Rest: give start-up work (recovery, first snapshot) time to finish, then read RSS. */
const atRest = async (s: Started) => {
  await sleep(3000)
  const stats = (role: string) => readProbe(s.probeDir, role)
  return { kernel: await stats("kernel"), exechost: await stats("exechost"), dashboard: await stats("dashboard") }
}

/** A burst: batches of 100 documents (a batch is retried as a whole; `set` is idempotent). */
const writeReports = async (db: Firestore, prefix: string, count: number) => {
  for (let start = 0; start < count; start += 100) {
    const batch = db.batch()
    for (let i = start; i < Math.min(count, start + 100); i++) {
      batch.set(db.collection("reports").doc(`${prefix}-${i}`), {
        status: "Data Ready",
        service: "Epi-Insight",
        patientId: `P${i % 20}`,
        patientName: "Bench Patient",
        collectionDate: "2026-01-01"
      })
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await batch.commit()
        break
      } catch (e) {
        if (attempt === 3) throw e
      }
    }
  }
}

interface Burst {
  readonly jobsPerSecond: number
  readonly cpuMsPerJob: number
  readonly cpuMsToArrive: number
  readonly eldP99Ms: number
  readonly idleEldP99Ms: number
  readonly eldMaxMs: number
  readonly elu: number
  readonly peakRss: number
  readonly failed: number
  /** Reports whose run had not ended when the bench stopped waiting. */
  readonly unfinished: number
}

const burst = async (s: Started, firestore: Firestore, prefix: string, count: number): Promise<Burst> => {
  const before = await readProbe(s.probeDir, "kernel")
  if (before === undefined) throw new Error("no kernel probe")
  process.kill(before.pid, "SIGUSR2")
  const idleBefore = await readProbe(s.probeDir, "idle.mjs")
  if (idleBefore !== undefined) process.kill(idleBefore.pid, "SIGUSR2")
  await sleep(200)
  const cpuBefore = (await readProbe(s.probeDir, "kernel"))?.cpuMs ?? before.cpuMs
  const began = performance.now()
  await writeReports(firestore, prefix, count)
  // Arrival CPU: until every report has its row (some have run by then, so the split is approximate).
  let cpuArrived = Number.NaN
  // Generous (half a job per second, on a loaded machine): a burst that still has not ended is reported as it stands.
  let last = { ok: 0, bad: 0, rows: 0 }
  const finished = await waitFor(`${count} runs`, 120_000 + count * 2000, async () => {
    const c = await s.db.countEnded(prefix)
    last = c
    if (Number.isNaN(cpuArrived) && c.rows >= count) cpuArrived = (await readProbe(s.probeDir, "kernel"))?.cpuMs ?? Number.NaN
    return c.ok + c.bad >= count ? c : undefined
  }).catch(() => undefined)
  const ended = finished ?? last
  const done = ended.ok + ended.bad
  const wall = performance.now() - began
  const after = await readProbe(s.probeDir, "kernel")
  const idleAfter = await readProbe(s.probeDir, "idle.mjs")
  if (after === undefined) throw new Error("no kernel probe")
  return {
    jobsPerSecond: (done / wall) * 1000,
    cpuMsPerJob: (after.cpuMs - cpuBefore) / Math.max(1, done),
    cpuMsToArrive: (cpuArrived - cpuBefore) / count,
    eldP99Ms: after.eldP99Ms,
    idleEldP99Ms: idleAfter?.eldP99Ms ?? Number.NaN,
    eldMaxMs: after.eldMaxMs,
    elu: after.elu,
    peakRss: after.peakRssWindow,
    failed: ended.bad,
    unfinished: count - done
  }
}

/** One report every 200 ms; Data Ready write -> the pipeline's own first instruction (its stamp). */
const latency = async (s: Started, firestore: Firestore, count: number) => {
  const written = new Map<string, number>()
  for (let i = 0; i < count; i++) {
    const id = `lat-${i}`
    written.set(id, Date.now())
    await firestore.collection("reports").doc(id).set({
      status: "Data Ready",
      service: "Epi-Insight",
      patientId: `P${i % 20}`,
      patientName: "Bench Patient",
      collectionDate: "2026-01-01"
    })
    await sleep(200)
  }
  // Runs that have not started by the deadline are missing from the samples (the row says how many there are).
  await waitFor("latency runs", 60_000 + count * 1000, async () => {
    const c = await s.db.countEnded("lat")
    return c.ok + c.bad >= count ? true : undefined
  }).catch(() => undefined)
  const samples: Array<number> = []
  // Where the time goes, from the row's own timestamps (ms): write -> row inserted (listener, dispatcher),
  // inserted -> claimed (workers), claimed -> the pipeline's stamp (Start, the execution host, bash).
  const rows = await s.db.rowTimes("lat")
  const stages = { arrive: new Array<number>(), claim: new Array<number>(), start: new Array<number>() }
  for (const line of readFileSync(s.stampsFile, "utf8").split("\n")) {
    const [doc, at] = line.split(" ")
    const w = doc === undefined ? undefined : written.get(doc)
    if (w === undefined || at === undefined) continue
    samples.push(Number(at) * 1000 - w)
    const row = rows.get(doc ?? "")
    if (row === undefined) continue
    stages.arrive.push(row.inserted - w)
    stages.claim.push(row.claimed - row.inserted)
    stages.start.push(Number(at) * 1000 - row.claimed)
  }
  const split = (xs: ReadonlyArray<number>) => `p50 ${ms(percentile(xs, 50))} / p99 ${ms(percentile(xs, 99))}`
  return {
    samples: samples.length,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: Math.max(...samples),
    stages: `write -> row ${split(stages.arrive)}; row -> claimed ${split(stages.claim)}; claimed -> pipeline ${split(stages.start)} ms`
  }
}

// ---------------------------------------------------------------- the run

const benchStarted = performance.now()

const main = async () => {
  if (!existsSync(LAUNCHER)) throw new Error("dist/kernel/launch.js is missing: run `make build` first")
  const scope = Effect.runSync(Scope.make())
  const quiet = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
    Effect.runPromise(effect.pipe(Scope.extend(scope), Effect.orDie, Logger.withMinimumLogLevel(LogLevel.None)))
  const emulator = await quiet(startEmbeddedEmulator({ projectId: "bench-0" }))
  const firestoreFor = (projectId: string) => quiet(acquireFirestore({ projectId }))

  process.stdout.write(`\n### Throughput, latency, memory, start-up\n\nmachine: ${machine()}\n`)
  const rows: Array<ReadonlyArray<string>> = []
  const verdict = (ok: boolean) => (ok ? "met" : "MISSED")
  const redis = await startRedis()
  const baselineLabel: Record<"spawn" | "bwrap" | "bullmq" | "bullmq-bwrap", (c: number) => string> = {
    spawn: (c) => `raw spawn, ${c} at a time`,
    bwrap: (c) => `raw bwrap spawn, ${c} at a time`,
    bullmq: (c) => `BullMQ 6.7 + Redis, concurrency ${c}`,
    "bullmq-bwrap": (c) => `BullMQ 6.7 + Redis spawning bwrap, concurrency ${c}`
  }
  const baseline = async (kind: keyof typeof baselineLabel, c: number) => {
    const jobsPerSecond = await runRaw(kind, BASELINE_JOBS, c, kind.startsWith("bullmq") ? redis.port : undefined)
    rows.push([baselineLabel[kind](c), `${ms(jobsPerSecond)} jobs/s`, "baseline", "", "", ""])
    return jobsPerSecond
  }

  const cases = [
    { name: "sandbox off, MAX_WORKERS 1", sandbox: 0 as const, workers: 1 },
    { name: "sandbox on, MAX_WORKERS 1", sandbox: 1 as const, workers: 1 },
    { name: "sandbox on, MAX_WORKERS 2", sandbox: 1 as const, workers: 2 },
    { name: "sandbox on, MAX_WORKERS 4", sandbox: 1 as const, workers: 4 }
  ]
  let restFigures: Awaited<ReturnType<typeof atRest>> | undefined
  let startupMs = Number.NaN
  const only = argNumber("--only-case", -1)
  for (const [i, k] of cases.entries()) {
    if (only >= 0 && i !== only) continue
    const raw = await baseline(k.sandbox === 1 ? "bwrap" : "spawn", k.workers)
    const bull = await baseline(k.sandbox === 1 ? "bullmq-bwrap" : "bullmq", k.workers)
    const s = await startAllocator(`case${i}`, emulator.host, { sandbox: k.sandbox, maxWorkers: k.workers })
    try {
      if (i === 0) {
        startupMs = s.startupMs
        restFigures = await atRest(s)
      }
      const fs = await firestoreFor(s.projectId)
      const b = await burst(s, fs, `b${i}`, REPORTS)
      const label = `allocator, ${k.name}: ${REPORTS} reports`
      rows.push([label, `${ms(b.jobsPerSecond)} jobs/s`, `raw ${k.sandbox === 1 ? "bwrap" : "spawn"} ${ms(raw)}`, ratio(b.jobsPerSecond, raw), ">= 0.90x", verdict(b.jobsPerSecond >= 0.9 * raw)])
      rows.push([`  same, vs BullMQ concurrency ${k.workers}${k.sandbox === 1 ? " (bwrap)" : ""}`, `${ms(b.jobsPerSecond)} jobs/s`, `BullMQ ${ms(bull)}`, ratio(b.jobsPerSecond, bull), "> 1.00x", verdict(b.jobsPerSecond > bull)])
      rows.push([`  kernel CPU per job`, `${b.cpuMsPerJob.toFixed(2)} ms (${b.cpuMsToArrive.toFixed(2)} ms until every report had its row)`, "", "", "< 3 ms", verdict(b.cpuMsPerJob < 3)])
      rows.push([`  kernel event-loop delay p99 (max) in the burst`, `${ms(b.eldP99Ms)} (${ms(b.eldMaxMs)}) ms, utilisation ${b.elu.toFixed(2)}`, `idle process p99 ${ms(b.idleEldP99Ms)} ms`, ratio(b.eldP99Ms, b.idleEldP99Ms), "p99 < 20 ms", verdict(b.eldP99Ms < 20)])
      rows.push([`  kernel peak RSS in the burst`, `${(b.peakRss / MiB).toFixed(0)} MiB`, "", "", "< 160 MiB", verdict(b.peakRss < 160 * MiB)])
      if (b.failed > 0) rows.push([`  runs that did not succeed`, String(b.failed), "", "", "0", "MISSED"])
      if (b.unfinished > 0) rows.push([`  runs not ended when the bench stopped waiting`, String(b.unfinished), "", "", "0", "MISSED"])
      if (i === 0) {
        const l = await latency(s, fs, LATENCY_REPORTS)
        rows.push([`Data Ready write -> pipeline start, 1 report / 200 ms (${l.samples} of ${LATENCY_REPORTS} started)`, `p50 ${ms(l.p50)} ms, p99 ${ms(l.p99)} ms, max ${ms(l.max)} ms`, "", "", "p99 < 50 ms", verdict(l.p99 < 50)])
        rows.push([`  its stages (the row's created_at and started_at)`, l.stages, "", "", "", ""])
      }
    } finally {
      await stopAllocator(s)
    }
  }

  redis.stop()
  const history = await startAllocator("history", emulator.host, { sandbox: 0, maxWorkers: 1 }, HISTORY_ROWS)
  const restHistory = await atRest(history).finally(() => stopAllocator(history))

  const rss = (s: ProbeStats | undefined) => (s === undefined ? "not running" : `${(s.rss / MiB).toFixed(0)} MiB`)
  const under = (s: ProbeStats | undefined, limit: number) => (s === undefined ? "n/a" : verdict(s.rss < limit * MiB))
  rows.push(["kernel RSS at rest, 0 rows of history", rss(restFigures?.kernel), "", "", "< 120 MiB", under(restFigures?.kernel, 120)])
  rows.push([`kernel RSS at rest, ${HISTORY_ROWS} rows of history`, rss(restHistory.kernel), "", "", "< 120 MiB", under(restHistory.kernel, 120)])
  rows.push(["execution host RSS at rest", rss(restFigures?.exechost), "", "", "< 80 MiB", under(restFigures?.exechost, 80)])
  rows.push(["dashboard server RSS at rest", rss(restFigures?.dashboard), "", "", "< 80 MiB", under(restFigures?.dashboard, 80)])
  rows.push(["start-up, launcher to /readyz (built tree, 0 rows)", `${ms(startupMs)} ms`, "", "", "< 3,000 ms", verdict(startupMs < 3000)])
  rows.push([`start-up with ${HISTORY_ROWS} rows`, `${ms(history.startupMs)} ms`, "", "", "< 3,000 ms", verdict(history.startupMs < 3000)])

  process.stdout.write(`\n${table(["figure", "measured", "baseline (same run)", "ratio", "target", "result"], rows)}\n`)
  process.stdout.write(`\nload average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}; this bench took ${((performance.now() - benchStarted) / 60_000).toFixed(1)} min (${QUICK ? "--quick sizes" : "issue 12's sizes"}: ${REPORTS} reports per case, ${BASELINE_JOBS} jobs per baseline)\n`)
  await Effect.runPromise(Scope.close(scope, Exit.void))
}

main()
  .catch((e: unknown) => {
    process.stderr.write(`throughput bench failed: ${e instanceof Error ? e.message : String(e)}\n${lastStderr()}\n`)
    process.exitCode = 1
  })
  .finally(() => {
    cleanup()
    process.exit()
  })
