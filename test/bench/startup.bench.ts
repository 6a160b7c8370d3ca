/**
 * Start-up and memory at rest (issue 12), against baselines measured in the
 * same run: a bare `node -e ""` start (the floor any Node process pays) and
 * its RSS.
 *
 *   npx tsx test/bench/startup.bench.ts [--rounds 3] [--history 100000]
 *
 * Each round runs `make -s run LOMI_CONFIG=<config>` on the built tree, as a
 * user would, and times it to the dashboard server's `/readyz`; then waits
 * for rest (start-up work done) and asks every process's probe, preloaded
 * through NODE_OPTIONS (test/bench/probe.mjs), for its RSS. The configuration
 * is a live one against a Firestore emulator run in this process, so the
 * allocator's memory is its own. Rounds alternate an empty database and one
 * with `--history` rows of finished jobs. Also checks that a second
 * `make run` with nothing changed rebuilds nothing (`make -q build`).
 * Prints one table; a missed target says MISSED. About a minute.
 *
 * A first round after removing the code caches (scripts/code-cache.cjs)
 * is the first start after a build; it is reported on its own row.
 *
 * Start-up is CPU-bound (three processes on two cores), so each process's
 * CPU time is read twice: the moment `/readyz` first answers 200 (what the
 * target waits on) and at rest. `LOMI_BENCH_CPU_PROF=dir` makes every
 * allocator process write a V8 CPU profile there when it stops
 * (test/bench/cpuprofile-summary.mjs reads them).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { SqlClient } from "@effect/sql"
import { Effect, Exit, Logger, LogLevel, Scope } from "effect"
import { startEmbeddedEmulator } from "../../kernel/firestore/embedded.ts"
import { databaseLayer } from "../../kernel/store/database.ts"
import { table } from "./table.ts"
import { benchConfig, freePort, median, readProbe, sleep, waitFor, type ProbeStats } from "./harness.ts"

const argNumber = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1] ?? fallback) : fallback
}
const ROUNDS = argNumber("--rounds", 3)
const HISTORY_ROWS = argNumber("--history", 100_000)
/** Start-up work (recovery, the first snapshot, the first listener round) is over by then. */
const REST_MS = 4_000

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const PROBE = path.join(repo, "test/bench/probe.mjs")
const MiB = 1024 * 1024

const root = mkdtempSync(path.join(os.tmpdir(), "lomi-startup-"))
const running: Array<ChildProcess> = []
const signalGroup = (c: ChildProcess, signal: NodeJS.Signals) => {
  if (c.pid === undefined) return
  try {
    process.kill(-c.pid, signal)
  } catch {
    // the group is gone already
  }
}
const cleanup = () => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) signalGroup(c, "SIGKILL")
  rmSync(root, { recursive: true, force: true })
}
process.on("SIGINT", () => {
  cleanup()
  process.exit(130)
})

/** A data dir with `historyRows` finished jobs (finished now, so no retention cleanup removes them). */
const prepare = async (name: string, historyRows: number) => {
  const dataDir = path.join(root, name, "data")
  mkdirSync(dataDir, { recursive: true })
  const now = new Date().toISOString()
  await Effect.runPromise(
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ${historyRows})
        INSERT INTO job_runs (doc_id, service, patient_id, patient_name, collection_date, state, attempt,
          scheduled_run_at, started_at, finished_at, exit_code, created_at, updated_at)
        SELECT 'hist-' || i, 'Epi-Insight', 'P' || (i % 20), 'History Patient', '2026-01-01', 'succeeded', 1,
          ${now}, ${now}, ${now}, 0, ${now}, ${now} FROM n WHERE ${historyRows} > 0`
    }).pipe(Effect.provide(databaseLayer(path.join(dataDir, "allocator.db"))), Effect.orDie, Logger.withMinimumLogLevel(LogLevel.None))
  )
  return dataDir
}

const writeConfig = async (name: string, dataDir: string, projectId: string) => {
  const httpPort = await freePort()
  const config = await benchConfig({ repo, dataDir, projectId, httpPort, script: path.join(repo, "fixtures/pipelines/test/noop-stamp.sh") })
  const file = path.join(root, name, "config.json")
  writeFileSync(file, JSON.stringify(config, null, 2))
  return { file, httpPort }
}

interface Round {
  readonly startupMs: number
  /** CPU ms of each process when /readyz first answered. */
  readonly cpuAtReady: Readonly<Record<Role, number | undefined>>
  readonly kernel: ProbeStats | undefined
  readonly exechost: ProbeStats | undefined
  readonly dashboard: ProbeStats | undefined
}

/** `make -s run` in its own process group; a SIGINT to the group is the user's Ctrl-C. */
type Role = "kernel" | "exechost" | "dashboard"
const ROLES: ReadonlyArray<Role> = ["kernel", "exechost", "dashboard"]
const PROFILE_DIR = process.env.LOMI_BENCH_CPU_PROF ? path.resolve(process.env.LOMI_BENCH_CPU_PROF) : undefined

const oneRound = async (name: string, emulatorHost: string, historyRows: number): Promise<Round> => {
  const dataDir = await prepare(name, historyRows)
  const { file, httpPort } = await writeConfig(name, dataDir, `startup-${name}`)
  const probeDir = path.join(root, name, "probe")
  mkdirSync(probeDir)
  const began = performance.now()
  const make = spawn("make", ["-s", "run", `LOMI_CONFIG=${file}`], {
    cwd: repo,
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...process.env,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import ${PROBE}`.trim(),
      ...(PROFILE_DIR === undefined ? {} : { LOMI_BENCH_PROBE_PROFILE_DIR: PROFILE_DIR }),
      FIRESTORE_EMULATOR_HOST: emulatorHost,
      LOMI_BENCH_PROBE_DIR: probeDir
    }
  })
  running.push(make)
  let stderr = ""
  make.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  try {
    await waitFor(`/readyz of ${name}`, 120_000, async () => {
      if (make.exitCode !== null) throw new Error(`make run exited ${make.exitCode}: ${stderr}`)
      try {
        const r = await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(1000) })
        return r.ok ? true : undefined
      } catch {
        return undefined
      }
    })
    const startupMs = performance.now() - began
    const atReady = await Promise.all(ROLES.map((role) => readProbe(probeDir, role)))
    const cpuAtReady = { kernel: atReady[0]?.cpuMs, exechost: atReady[1]?.cpuMs, dashboard: atReady[2]?.cpuMs }
    if (PROFILE_DIR !== undefined) {
      // Where /readyz falls in each profile (seconds from the process's start): the window for cpuprofile-summary.mjs.
      const at = ROLES.map((role, i) => `${role} pid ${atReady[i]?.pid ?? "?"} at ${((atReady[i]?.uptimeMs ?? 0) / 1000).toFixed(2)} s`)
      process.stderr.write(`${name}: /readyz after ${(startupMs / 1000).toFixed(2)} s; ${at.join(", ")}\n`)
    }
    await sleep(REST_MS)
    const [kernel, exechost, dashboard] = await Promise.all(ROLES.map((role) => readProbe(probeDir, role)))
    return { startupMs, cpuAtReady, kernel, exechost, dashboard }
  } finally {
    signalGroup(make, "SIGINT")
    await waitFor("make run to stop", 60_000, () => (make.exitCode !== null || make.signalCode !== null ? true : undefined)).catch(() =>
      signalGroup(make, "SIGKILL")
    )
  }
}

/** The floor: a bare Node process started and gone, and its RSS. */
const bareNode = () => {
  const began = performance.now()
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.memoryUsage().rss))"], { encoding: "utf8" })
  return { ms: performance.now() - began, rss: Number(r.stdout) }
}

const main = async () => {
  const built = spawnSync("make", ["-s", "build"], { cwd: repo, stdio: ["ignore", "ignore", "inherit"] })
  if (built.status !== 0) throw new Error("make build failed")
  const scope = Effect.runSync(Scope.make())
  const emulator = await Effect.runPromise(
    startEmbeddedEmulator({ projectId: "startup-0" }).pipe(Scope.extend(scope), Effect.orDie, Logger.withMinimumLogLevel(LogLevel.None))
  )
  // The first start after a build has no code cache yet (scripts/code-cache.cjs writes it 5 s in): one round
  // measured on its own, then the rounds a user sees from the second `make run` on.
  for (const dir of ["dist/kernel", "dist/kernel/exechost", "dist/kernel/dashboard"]) {
    const full = path.join(repo, dir)
    if (existsSync(full)) for (const name of readdirSync(full)) if (name.endsWith(".v8cache")) rmSync(path.join(full, name))
  }
  const first = await oneRound("first", emulator.host, 0)
  const cpu0 = process.cpuUsage()
  const bare: Array<ReturnType<typeof bareNode>> = []
  const empty: Array<Round> = []
  const history: Array<Round> = []
  for (let i = 0; i < ROUNDS; i++) {
    bare.push(bareNode())
    empty.push(await oneRound(`empty${i}`, emulator.host, 0))
    history.push(await oneRound(`history${i}`, emulator.host, HISTORY_ROWS))
  }
  // `make run` again with nothing changed: `make -q` exits 0 only when every target is up to date.
  const upToDate = spawnSync("make", ["-q", "build"], { cwd: repo }).status === 0
  const makeChecks = (() => {
    const began = performance.now()
    spawnSync("make", ["-s", "deps", "system-deps", "build"], { cwd: repo, stdio: "ignore" })
    return performance.now() - began
  })()
  await Effect.runPromise(Scope.close(scope, Exit.void))

  const bareMs = median(bare.map((b) => b.ms))
  const bareRss = median(bare.map((b) => b.rss))
  const verdict = (ok: boolean) => (ok ? "MET" : "MISSED")
  const rssOf = (rounds: ReadonlyArray<Round>, role: "kernel" | "exechost" | "dashboard") => {
    const xs = rounds.flatMap((r) => (r[role] === undefined ? [] : [r[role].rss]))
    return xs.length === 0 ? Number.NaN : median(xs)
  }
  const memRow = (label: string, rss: number, limitMib: number) => [
    label,
    Number.isNaN(rss) ? "not running" : `${(rss / MiB).toFixed(0)} MiB`,
    `bare node ${(bareRss / MiB).toFixed(0)} MiB`,
    `${(rss / bareRss).toFixed(2)}x`,
    `< ${limitMib} MiB`,
    Number.isNaN(rss) ? "n/a" : verdict(rss < limitMib * MiB)
  ]
  const startRow = (label: string, rounds: ReadonlyArray<Round>) => {
    const m = median(rounds.map((r) => r.startupMs))
    return [label, `${m.toFixed(0)} ms (${rounds.map((r) => r.startupMs.toFixed(0)).join(", ")})`, `bare node ${bareMs.toFixed(0)} ms`, `${(m / bareMs).toFixed(1)}x`, "< 3,000 ms", verdict(m < 3000)]
  }
  // CPU is steadier than wall time on a shared machine: what each process spent from its start to rest.
  const cpuRow = (role: Role, rounds: ReadonlyArray<Round>, label: string) => {
    const ready = rounds.flatMap((r) => {
      const ms = r.cpuAtReady[role]
      return ms === undefined ? [] : [ms]
    })
    const rest = rounds.flatMap((r) => (r[role] === undefined ? [] : [r[role].cpuMs]))
    return [`${role} CPU to /readyz (to rest), ${label}`, `${median(ready).toFixed(0)} ms (${median(rest).toFixed(0)} ms)`, "", "", "", ""]
  }
  const cpuSum = (rounds: ReadonlyArray<Round>) =>
    median(rounds.map((r) => ROLES.reduce((sum, role) => sum + (r.cpuAtReady[role] ?? 0), 0)))
  const rows = [
    startRow("`make run` to /readyz, first start after a build (no code cache yet), 0 rows", [first]),
    startRow("`make run` to /readyz, 0 rows", empty),
    startRow(`\`make run\` to /readyz, ${HISTORY_ROWS} rows`, history),
    ...ROLES.map((role) => cpuRow(role, empty, "0 rows")),
    ...ROLES.map((role) => cpuRow(role, history, `${HISTORY_ROWS} rows`)),
    ["all three processes' CPU to /readyz", `${cpuSum(empty).toFixed(0)} ms (0 rows), ${cpuSum(history).toFixed(0)} ms (${HISTORY_ROWS} rows)`, "", "", "", ""],
    memRow("kernel RSS at rest, 0 rows", rssOf(empty, "kernel"), 120),
    memRow(`kernel RSS at rest, ${HISTORY_ROWS} rows`, rssOf(history, "kernel"), 120),
    memRow("execution host RSS at rest", rssOf(empty, "exechost"), 80),
    memRow("dashboard server RSS at rest", rssOf(empty, "dashboard"), 80),
    ["`make run` again, nothing changed", upToDate ? "no rebuild" : "would rebuild", `make's checks ${makeChecks.toFixed(0)} ms`, "", "no rebuild", verdict(upToDate)]
  ]
  const cpu = process.cpuUsage(cpu0)
  process.stdout.write(
    `\n### Start-up and memory at rest (medians of ${ROUNDS} rounds)\n\nmachine: ${os.availableParallelism()} cores, ${os.cpus()[0]?.model ?? "unknown cpu"}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}\n\n`
  )
  process.stdout.write(`${table(["figure", "measured", "baseline (same run)", "ratio", "target", "result"], rows)}\n`)
  process.stdout.write(`\nbench process CPU (the emulator serving the allocator): ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms\n`)
}

main()
  .catch((e: unknown) => {
    process.stderr.write(`startup bench failed: ${e instanceof Error ? e.message : String(e)}\n`)
    process.exitCode = 1
  })
  .finally(() => {
    cleanup()
    process.exit()
  })
