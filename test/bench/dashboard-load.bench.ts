/**
 * Intake under dashboard load. The compiled allocator is started by its
 * launcher (kernel, execution host, dashboard server: each its own process)
 * on a database with --history rows, against the embedded Firestore emulator
 * run in this process. Then, in the same run:
 *
 *   1. unloaded: one Data Ready report every 200 ms, nothing else;
 *   2. loaded: the same, while --clients dashboard clients run for --seconds:
 *      a third hold the SSE event stream open, a third page the jobs list
 *      (a random state filter, a random page), a third search it (3-5
 *      digits of a document number, through the trigram index). Each list or
 *      search client sends its next request as soon as the last one answers.
 *      The clients run in a process of their own (dashboardClients.mjs).
 *
 * Data Ready -> row is the row's created_at (the kernel's clock) minus the
 * moment the report was written (this process's clock, the same machine).
 * Targets (issue 12): loaded p99 within 2x of unloaded p99; dashboard
 * requests p99 under 1 s. Also printed: the dashboard's refusals (503 beyond
 * its bounds), its RSS at rest before the load, its peak RSS under it and
 * its RSS at rest again --rest-after ms after it (issue 12: under 80 MiB at
 * rest, peak aimed under 120 MiB), and the kernel's event-loop delay under
 * load, from the probe the launcher passes to every process
 * (test/bench/probe.mjs).
 *
 *   npx tsx test/bench/dashboard-load.bench.ts [--clients 200] [--sse 66] [--seconds 30] [--history 100000] [--reports-unloaded 50] [--rest-after 10000]
 *   (a quick look: --seconds 10 --reports-unloaded 20; --history 0 for the empty database)
 *   (LOMI_BENCH_PROFILE=<dir> adds --cpu-prof to every allocator process;
 *    DL_NODE_FLAGS="<node flags>" passes flags to every allocator process;
 *    DL_DEBUG=1 prints each list/search request over 1 s as [start ms, took ms])
 *
 * Read the latencies beside the clients' own event-loop delay and the load
 * average: on a machine busy with other work the client process itself is
 * descheduled, and its waits are part of every figure it measures.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Exit, Logger, LogLevel, ManagedRuntime, Schema, Scope } from "effect"
import type { Firestore } from "firebase-admin/firestore"
import { acquireFirestore } from "../../kernel/firestore/admin-app.ts"
import { startEmbeddedEmulator } from "../../kernel/firestore/embedded.ts"
import { hashPassword } from "../../kernel/http/passwords.ts"
import { databaseLayer } from "../../kernel/store/database.ts"
import { ms, ratio, table } from "./table.ts"
import { benchConfig, freePort, machine, percentile, readProbe, sleep, waitFor } from "./harness.ts"

const argNumber = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1] ?? fallback) : fallback
}
const CLIENTS = argNumber("--clients", 200)
const SECONDS = argNumber("--seconds", 30)
const HISTORY_ROWS = argNumber("--history", 100_000)
const UNLOADED_REPORTS = argNumber("--reports-unloaded", 50)
/** How many of the clients hold an event stream; the rest split between list and search. */
const SSE_CLIENTS = argNumber("--sse", Math.floor(CLIENTS / 3))
const INTERVAL_MS = 200
/** How long after the load the dashboard's RSS is read again ("at rest after the load"). */
const REST_AFTER_LOAD_MS = argNumber("--rest-after", 10_000)

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const SCRIPT = path.join(repo, "fixtures/pipelines/test/noop-stamp.sh")
const LAUNCHER = path.join(repo, "dist/kernel/launch.js")
const DASHBOARD_BUNDLE = path.join(repo, "dist/kernel/dashboard/main.js")
const PROBE = path.join(repo, "test/bench/probe.mjs")
const CLIENTS_SCRIPT = path.join(repo, "test/bench/dashboardClients.mjs")
const MiB = 1024 * 1024
const USER = { name: "bench", password: "bench-password-1" }

const root = mkdtempSync(path.join(os.tmpdir(), "lomi-dashload-"))
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

const Rows = Schema.Array(Schema.Struct({ doc_id: Schema.String, created_at: Schema.String }))

// ---------------------------------------------------------------- the allocator

const startAllocator = async (emulatorHost: string) => {
  const dataDir = path.join(root, "data")
  mkdirSync(dataDir, { recursive: true })
  for (const sub of ["patient-base", "user-data"]) for (let p = 0; p < 20; p++) mkdirSync(path.join(dataDir, sub, `P${p}`), { recursive: true })
  mkdirSync(path.join(dataDir, "scratch"), { recursive: true })
  const dbFile = path.join(dataDir, "allocator.db")
  const now = new Date().toISOString()
  await Effect.runPromise(
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO tunables (key, value, updated_at, updated_by) VALUES ('SANDBOX_ENABLED', 0, ${now}, 'bench'),
        ('MAX_WORKERS', 1, ${now}, 'bench')`
      yield* sql`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ${HISTORY_ROWS})
        INSERT INTO job_runs (doc_id, service, patient_id, patient_name, collection_date, state, attempt,
          scheduled_run_at, started_at, finished_at, exit_code, created_at, updated_at)
        SELECT 'hist-' || i, 'Epi-Insight', 'P' || (i % 20), 'History Patient ' || (i % 997), '2026-01-01',
          CASE WHEN i % 50 = 0 THEN 'failed_permanent' ELSE 'succeeded' END, 1,
          ${now}, ${now}, ${now}, 0, ${now}, ${now} FROM n WHERE ${HISTORY_ROWS} > 0`
    }).pipe(Effect.provide(databaseLayer(dbFile)), Effect.orDie, Logger.withMinimumLogLevel(LogLevel.None))
  )
  const probeDir = path.join(root, "probe")
  mkdirSync(probeDir)
  const httpPort = await freePort()
  const projectId = "dashload"
  const passwordHash = await Effect.runPromise(hashPassword(USER.password))
  const config = await benchConfig({
    repo,
    dataDir,
    projectId,
    httpPort,
    script: SCRIPT,
    users: [{ name: USER.name, role: "admin", passwordHash }]
  })
  const configFile = path.join(root, "config.json")
  writeFileSync(configFile, JSON.stringify(config, null, 2))
  // LOMI_BENCH_PROFILE=<dir>: every process writes a CPU profile there when it stops (the launcher passes its flags on).
  const profile = process.env.LOMI_BENCH_PROFILE
  const profiling = profile === undefined || profile === "" ? [] : ["--cpu-prof", `--cpu-prof-dir=${profile}`]
  const extra = (process.env.DL_NODE_FLAGS ?? "").split(" ").filter((f) => f !== "")
  const launcher = spawn(process.execPath, [...profiling, ...extra, "--import", PROBE, LAUNCHER, configFile], {
    cwd: repo,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, FIRESTORE_EMULATOR_HOST: emulatorHost, LOMI_BENCH_PROBE_DIR: probeDir }
  })
  children.push(launcher)
  let stderr = ""
  launcher.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  const base = `http://127.0.0.1:${httpPort}`
  await waitFor("/readyz", 180_000, async () => {
    if (launcher.exitCode !== null) throw new Error(`allocator exited ${launcher.exitCode}: ${stderr}`)
    try {
      const r = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1000) })
      return r.ok ? true : undefined
    } catch {
      return undefined
    }
  })
  await waitFor("the kernel and dashboard probes", 90_000, async () =>
    (await readProbe(probeDir, "kernel")) !== undefined && (await readProbe(probeDir, "dashboard")) !== undefined ? true : undefined
  )
  const db = ManagedRuntime.make(SqliteClient.layer({ filename: dbFile, readonly: true, disableWAL: true }))
  const rowsOf = (prefix: string) =>
    db.runPromise(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        return yield* Effect.flatMap(
          sql`SELECT doc_id, MIN(created_at) AS created_at FROM job_runs WHERE doc_id LIKE ${`${prefix}-%`} GROUP BY doc_id`,
          Schema.decodeUnknown(Rows)
        )
      }).pipe(Effect.orDie)
    )
  const stop = async () => {
    await db.dispose()
    launcher.kill("SIGINT")
    await waitFor("the allocator to stop", 60_000, () => (launcher.exitCode !== null || launcher.signalCode !== null ? true : undefined)).catch(
      () => launcher.kill("SIGKILL")
    )
  }
  return { base, probeDir, projectId, rowsOf, stop }
}

type Allocator = Awaited<ReturnType<typeof startAllocator>>

// ---------------------------------------------------------------- intake

/** One report every INTERVAL_MS until `count` or `until()`; then Data Ready -> row for each. */
const intake = async (a: Allocator, firestore: Firestore, prefix: string, count: number) => {
  const written = new Map<string, number>()
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${i}`
    const began = performance.now()
    written.set(id, Date.now())
    await firestore.collection("reports").doc(id).set({
      status: "Data Ready",
      service: "Epi-Insight",
      patientId: `P${i % 20}`,
      patientName: "Bench Patient",
      collectionDate: "2026-01-01"
    })
    await sleep(Math.max(0, INTERVAL_MS - (performance.now() - began)))
  }
  const rows = await waitFor(`${count} rows for ${prefix}`, 120_000, async () => {
    const r = await a.rowsOf(prefix)
    return r.length >= count ? r : undefined
  })
  const samples = rows.flatMap((r) => {
    const w = written.get(r.doc_id)
    return w === undefined ? [] : [Date.parse(r.created_at) - w]
  })
  return { samples: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99), max: Math.max(...samples) }
}

// ---------------------------------------------------------------- dashboard clients

interface LoadResult {
  readonly list: ReadonlyArray<number>
  readonly search: ReadonlyArray<number>
  readonly refused: number
  readonly failed: number
  readonly statuses: Readonly<Record<string, number>>
  readonly sseOpen: number
  readonly sseEvents: number
  readonly sseDropped: number
  readonly clientDelayP99Ms: number
  readonly clientCpuMs: number
  readonly slow?: ReadonlyArray<readonly [number, number]>
}

/** The clients run in their own process (test/bench/dashboardClients.mjs): here they would starve the emulator. */
const dashboardLoad = (base: string) =>
  new Promise<LoadResult>((resolve, reject) => {
    const args = [CLIENTS_SCRIPT, base, String(CLIENTS), String(SSE_CLIENTS), String(SECONDS), String(HISTORY_ROWS), USER.name, USER.password]
    const child = spawn(process.execPath, args, { cwd: repo, stdio: ["ignore", "pipe", "inherit"] })
    children.push(child)
    let out = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`dashboard clients exited ${code}`))
      resolve(JSON.parse(out.trim().split("\n").pop() ?? "{}") as LoadResult)
    })
  })

// ---------------------------------------------------------------- the run

const main = async () => {
  if (!existsSync(LAUNCHER) || !existsSync(DASHBOARD_BUNDLE)) {
    throw new Error("dist/kernel/launch.js or dist/kernel/dashboard/main.js is missing: run `make build` first")
  }
  const scope = Effect.runSync(Scope.make())
  const quiet = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
    Effect.runPromise(effect.pipe(Scope.extend(scope), Effect.orDie, Logger.withMinimumLogLevel(LogLevel.None)))
  const emulator = await quiet(startEmbeddedEmulator({ projectId: "dashload" }))
  const a = await startAllocator(emulator.host)
  const rows: Array<ReadonlyArray<string>> = []
  const verdict = (ok: boolean) => (ok ? "MET" : "MISSED")
  try {
    const firestore = await quiet(acquireFirestore({ projectId: a.projectId }))
    await sleep(2000)

    const unloaded = await intake(a, firestore, "u", UNLOADED_REPORTS)

    for (const role of ["kernel", "dashboard"]) {
      const p = await readProbe(a.probeDir, role)
      if (p !== undefined) process.kill(p.pid, "SIGUSR2")
    }
    await sleep(300)
    const atRest = await readProbe(a.probeDir, "dashboard")
    const load = dashboardLoad(a.base)
    const loadedReports = Math.floor((SECONDS * 1000) / INTERVAL_MS) - 5
    const loaded = await intake(a, firestore, "l", loadedReports)
    const dashboard = await load
    const kernelProbe = await readProbe(a.probeDir, "kernel")
    const dashboardProbe = await readProbe(a.probeDir, "dashboard")
    // Quiet again: what the dashboard gives back once its clients are gone.
    await sleep(REST_AFTER_LOAD_MS)
    const afterLoad = await readProbe(a.probeDir, "dashboard")
    const loadCpuMs = dashboardProbe !== undefined && atRest !== undefined ? dashboardProbe.cpuMs - atRest.cpuMs : Number.NaN

    if (dashboard.failed > 0) process.stderr.write(`dashboard answers other than 200/503: ${JSON.stringify(dashboard.statuses)}\n`)
    const all = [...dashboard.list, ...dashboard.search]
    const p99 = percentile(all, 99)
    rows.push([
      `Data Ready -> row, unloaded (${unloaded.samples} reports, 1 / ${INTERVAL_MS} ms)`,
      `p50 ${ms(unloaded.p50)} ms, p99 ${ms(unloaded.p99)} ms, max ${ms(unloaded.max)} ms`,
      "baseline",
      "",
      ""
    ])
    rows.push([
      `Data Ready -> row, ${CLIENTS} dashboard clients for ${SECONDS} s (${loaded.samples} reports)`,
      `p50 ${ms(loaded.p50)} ms, p99 ${ms(loaded.p99)} ms, max ${ms(loaded.max)} ms`,
      ratio(loaded.p99, unloaded.p99),
      "p99 <= 2.00x unloaded",
      verdict(loaded.p99 <= 2 * unloaded.p99)
    ])
    rows.push([
      `dashboard requests: jobs list (${dashboard.list.length}) + search (${dashboard.search.length}), ${dashboard.sseOpen} SSE streams open`,
      `p50 ${ms(percentile(all, 50))} ms, p99 ${ms(p99)} ms, max ${ms(Math.max(...all))} ms; list p99 ${ms(percentile(dashboard.list, 99))}, search p99 ${ms(percentile(dashboard.search, 99))}`,
      `${((all.length / SECONDS) | 0)} req/s`,
      "p99 < 1000 ms",
      verdict(p99 < 1000)
    ])
    rows.push([
      "the clients' own process: event-loop delay p99 (part of every latency above), CPU",
      `${ms(dashboard.clientDelayP99Ms)} ms, ${(dashboard.clientCpuMs / 1000).toFixed(1)} s`,
      "",
      "",
      ""
    ])
    if (process.env.DL_DEBUG === "1") process.stderr.write(`slow requests [start ms, took ms]: ${JSON.stringify(dashboard.slow ?? [])}\n`)
    rows.push([
      "dashboard refusals (503 beyond its bounds) / errors",
      `${dashboard.refused} / ${dashboard.failed}`,
      "",
      "",
      ""
    ])
    rows.push([
      "SSE: streams opened, events received, streams dropped (slow or ended early)",
      `${dashboard.sseOpen}, ${dashboard.sseEvents}, ${dashboard.sseDropped}`,
      "",
      "",
      ""
    ])
    rows.push([
      "dashboard server CPU under load (all its work: requests, refusals, SSE, the kernel link)",
      `${(loadCpuMs / 1000).toFixed(1)} s CPU, ${ms(loadCpuMs / Math.max(1, all.length + dashboard.refused))} ms per answered request`,
      "",
      "",
      ""
    ])
    if (atRest !== undefined) {
      rows.push([
        `dashboard server at rest (${HISTORY_ROWS} history rows, after the unloaded run): RSS`,
        `${(atRest.rss / MiB).toFixed(0)} MiB (heap used ${(atRest.heapUsed / MiB).toFixed(0)} MiB)`,
        "",
        "RSS < 80 MiB",
        verdict(atRest.rss < 80 * MiB)
      ])
    }
    if (dashboardProbe !== undefined) {
      rows.push([
        "dashboard server under load: peak RSS, event-loop delay p99, utilisation",
        `${(dashboardProbe.peakRssWindow / MiB).toFixed(0)} MiB, ${ms(dashboardProbe.eldP99Ms)} ms, ${dashboardProbe.elu.toFixed(2)}`,
        "",
        "peak RSS < 120 MiB",
        verdict(dashboardProbe.peakRssWindow < 120 * MiB)
      ])
    }
    if (afterLoad !== undefined) {
      rows.push([
        `dashboard server at rest again, ${REST_AFTER_LOAD_MS / 1000} s after the load: RSS`,
        `${(afterLoad.rss / MiB).toFixed(0)} MiB (heap used ${(afterLoad.heapUsed / MiB).toFixed(0)} MiB)`,
        "",
        "RSS < 80 MiB",
        verdict(afterLoad.rss < 80 * MiB)
      ])
    }
    if (kernelProbe !== undefined) {
      rows.push([
        "kernel under dashboard load: event-loop delay p99 (max), utilisation, peak RSS",
        `${ms(kernelProbe.eldP99Ms)} (${ms(kernelProbe.eldMaxMs)}) ms, ${kernelProbe.elu.toFixed(2)}, ${(kernelProbe.peakRssWindow / MiB).toFixed(0)} MiB`,
        "",
        "",
        ""
      ])
    }
  } finally {
    await a.stop()
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
  process.stdout.write(`\n### Intake under dashboard load\n\nmachine: ${machine()}, ${HISTORY_ROWS} history rows\n\n`)
  process.stdout.write(`${table(["measure", "result", "ratio / rate", "target", "verdict"], rows)}\n`)
}

main()
  .then(() => {
    cleanup()
    process.exit(0)
  })
  .catch((e: unknown) => {
    process.stderr.write(`dashboard-load bench failed: ${e instanceof Error ? e.message : String(e)}\n`)
    cleanup()
    process.exit(1)
  })
