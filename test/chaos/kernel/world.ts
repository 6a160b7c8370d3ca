/**
 * The kernel chaos run's world: a temporary root, the Firestore emulator in
 * its own process, the compiled kernel as a process (which starts its own
 * execution host, as in production), the chaos pipeline, and the readers the
 * invariants need (SQLite read-only, markers, the host's exit records, /proc).
 *
 *   <root>/bin/pipeline.sh          copy of fixtures/pipelines/chaos/pipeline.sh
 *   <root>/chaos/plans/<doc>        what each execution of <doc> does, line by line
 *   <root>/chaos/markers/           one file per execution (the pipeline writes it)
 *   <root>/data/                    the kernel's data dir (allocator.db, exechost/)
 *   <root>/kernel.log               every kernel's output, appended
 */
import { type ChildProcess, spawn } from "node:child_process"
import { copyFileSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Duration, Effect, Layer, type Scope } from "effect"
import type { StaticConfig } from "../../../schemas/config.ts"
import { ExecuteCommand } from "../../../schemas/control.ts"
import type { CommandResult } from "../../../schemas/commands.ts"
import { ControlProtocol, controlSocketPath } from "../../../kernel/control/protocol.ts"
import { EventBus } from "../../../kernel/events.ts"
import { connect } from "../../../kernel/ipc/client.ts"
import { databaseFile } from "../../../kernel/paths.ts"
import { storeLayer } from "../../../kernel/runtime.ts"
import { TunableStore } from "../../../kernel/store/tunables.ts"
import type { TunableKey } from "../../../schemas/tunables.ts"
import { isLive, tryKill, writeConfig } from "../../exechost/support.ts"
import { type ExitRecord, type Kind, type Marker, parseMarker, type Row } from "./invariants.ts"

export const REPO = fileURLToPath(new URL("../../../", import.meta.url))
const PIPELINE = join(REPO, "fixtures", "pipelines", "chaos", "pipeline.sh")
const EMULATOR = join(REPO, "test", "chaos", "kernel", "emulator.ts")
export const KERNEL_BUNDLE = join(REPO, "dist", "kernel", "main.js")
const PROJECT = "lomi-chaos"

/** mulberry32: small and seedable; picks plans and timings. */
export const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export type Random = () => number

/** A pipeline's duration: mostly short, sometimes long enough to straddle a kernel kill. */
const seconds = (random: Random) => (random() < 0.8 ? random() * 0.5 : 0.5 + random() * 2.5).toFixed(2)

/**
 * One document's plan: what its 1st, 2nd, ... executions do. It ends at the
 * first ok or hang (nothing runs after those), or after 5 lines (the default
 * past the end is ok); MAX_RETRIES failures end it on their own.
 */
export const planFor = (random: Random): ReadonlyArray<string> => {
  const lines: Array<string> = []
  while (lines.length < 5) {
    const r = random()
    const kind: Kind = r < 0.45 ? "ok" : r < 0.63 ? "fail" : r < 0.78 ? "temp" : r < 0.88 ? "crash" : "hang"
    lines.push(`${kind} ${kind === "hang" ? "0" : seconds(random)}`)
    if (kind === "ok" || kind === "hang") break
  }
  return lines
}

export const TUNABLES: Partial<Record<TunableKey, number>> = {
  SANDBOX_ENABLED: 0,
  MAX_WORKERS: 1,
  MAX_RETRIES: 2,
  RETRY_DELAY_SECONDS: 0,
  TEMP_FAIL_RETRY_DELAY_SECONDS: 0,
  COOLDOWN_SECONDS: 0,
  KILL_GRACE_MS: 100,
  EMAIL_ENABLED: 0
}

export interface ChaosRoot {
  readonly root: string
  readonly chaos: string
  readonly config: StaticConfig
  readonly configFile: string
  readonly script: string
  readonly kernelLog: string
}

/** A fresh root with its configuration and tunables stored; whatever is left under it is killed and removed with the scope. */
export const chaosRoot: Effect.Effect<ChaosRoot, never, Scope.Scope> = Effect.acquireRelease(
  Effect.gen(function* () {
    const root = mkdtempSync(join(tmpdir(), "lomi-chaos-"))
    const chaos = join(root, "chaos")
    for (const dir of ["bin", "chaos/plans", "chaos/markers", "data", "base", "user", "pipelines"]) mkdirSync(join(root, dir), { recursive: true })
    const script = join(root, "bin", "pipeline.sh")
    copyFileSync(PIPELINE, script)
    const service = { script, env: { LOMI_CHAOS_DIR: chaos } }
    const config: StaticConfig = {
      dataDir: join(root, "data"),
      timezone: "UTC",
      firestore: { mode: "live", projectId: PROJECT, connectivityTimeoutMs: 2000 },
      services: { "Gen-Decoder": service, "Epi-Insight": service, "Omni-Health": service },
      paths: { patientBaseDir: join(root, "base"), userDataDir: join(root, "user"), minicondaBase: "", pipelinesRoot: join(root, "pipelines") },
      sandbox: { scratchRoot: join(root, "scratch"), bwrapPath: "bwrap", cacheDir: join(root, "cache"), repoWriteWhitelist: [] },
      mail: {
        host: "127.0.0.1",
        port: 9,
        secure: false,
        ignoreTLS: true,
        from: "chaos@lab.test",
        dashboardUrl: "http://dash.test",
        recipients: { upload_reminder: [], permanent_failure: ["ops@lab.test"], manual_add: [] }
      },
      health: { geminiBaseUrl: "http://127.0.0.1:9", ocrUrl: "http://127.0.0.1:9", ttlSeconds: 60, timeoutMs: 1000 },
      http: { host: "127.0.0.1", port: 0, users: [] }
    }
    const configFile = join(root, "config.json")
    yield* writeConfig(config, configFile)
    yield* Effect.gen(function* () {
      const store = yield* TunableStore
      for (const [key, value] of Object.entries(TUNABLES)) if (value !== undefined) yield* Effect.orDie(store.set(key, value, "chaos"))
    }).pipe(Effect.provide(storeLayer(databaseFile(config.dataDir)).pipe(Layer.provide(EventBus.Default), Layer.orDie)), Effect.scoped)
    return { root, chaos, config, configFile, script, kernelLog: join(root, "kernel.log") }
  }),
  (w) =>
    Effect.sync(() => {
      for (const p of processesUnder(w.root)) tryKill(-p.pid, "SIGKILL")
      for (const p of processesUnder(w.root)) tryKill(p.pid, "SIGKILL")
      if (process.env.CHAOS_KEEP !== "1") rmSync(w.root, { recursive: true, force: true })
    })
)

// --- processes (/proc) ---

export interface Proc {
  readonly pid: number
  readonly argv: ReadonlyArray<string>
}

const cmdline = (pid: string): ReadonlyArray<string> => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((a) => a !== "")
  } catch {
    return []
  }
}

/** Live processes with `needle` in their command line (not this one). */
export const processesMatching = (needle: string): ReadonlyArray<Proc> =>
  readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid && isLive(Number(n)))
    .map((n) => ({ pid: Number(n), argv: cmdline(n) }))
    .filter((p) => p.argv.join(" ").includes(needle))

export const processesUnder = (root: string) => processesMatching(root)

const parentOf = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
  } catch {
    return undefined
  }
}

/**
 * Pipelines per document: processes running the script, not their monitors,
 * and not the script's own forks (a `$(...)` or a command about to exec has
 * the script's command line for a moment; its parent is the pipeline).
 */
export const livePipelines = (w: ChaosRoot): Map<string, Array<number>> => {
  const out = new Map<string, Array<number>>()
  const running = processesMatching(w.script).filter((p) => !(p.argv[0] ?? "").includes("lomi-monitor"))
  const scripts = new Set(running.map((p) => p.pid))
  for (const p of running) {
    const parent = parentOf(p.pid)
    // Gone meanwhile (a short-lived fork), or a fork of a pipeline.
    if (parent === undefined || scripts.has(parent)) continue
    const at = p.argv.indexOf(w.script)
    const doc = p.argv[at + 1]
    if (at < 0 || doc === undefined) continue
    out.set(doc, [...(out.get(doc) ?? []), p.pid])
  }
  return out
}

/** The execution host(s) serving this root's data dir (started by a kernel, detached). */
export const hostPids = (w: ChaosRoot): ReadonlyArray<number> =>
  processesMatching(join(w.config.dataDir, "exechost", "config.json"))
    .filter((p) => p.argv.some((a) => a.endsWith(join("exechost", "main.js")) || a.endsWith(join("exechost", "main.ts"))))
    .map((p) => p.pid)

// --- the emulator process ---

const linesOf = (child: ChildProcess, onLine: (line: string) => void) => {
  let buffer = ""
  child.stdout?.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("utf8")
    let at = buffer.indexOf("\n")
    while (at >= 0) {
      onLine(buffer.slice(0, at))
      buffer = buffer.slice(at + 1)
      at = buffer.indexOf("\n")
    }
  })
}

/** The emulator in its own process (test/chaos/kernel/emulator.ts); its `host:port` once it listens. Stopped with the scope. */
export const emulatorProcess = (w: ChaosRoot): Effect.Effect<string, never, Scope.Scope> =>
  Effect.gen(function* () {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(process.execPath, ["--import", "tsx", EMULATOR, PROJECT], { cwd: REPO, stdio: ["ignore", "pipe", "inherit"] })),
      (c) =>
        Effect.gen(function* () {
          c.kill("SIGTERM")
          const deadline = Date.now() + 10_000
          while (c.exitCode === null && c.signalCode === null && Date.now() < deadline) yield* Effect.sleep("50 millis")
          if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
        })
    )
    let host: string | undefined
    linesOf(child, (line) => {
      const m = /^EMULATOR (\S+)/.exec(line)
      if (m !== null) host = m[1]
    })
    const deadline = Date.now() + 120_000
    while (host === undefined) {
      if (child.exitCode !== null || Date.now() > deadline) return yield* Effect.dieMessage(`the emulator process did not start (exit ${child.exitCode})`)
      yield* Effect.sleep("50 millis")
    }
    return host
  })

// --- kernel processes ---

export interface Kernel {
  readonly pid: number
  /** The start-up banner was printed: every layer is built, recovery done, actors running. */
  readonly ready: () => boolean
  /** Exit code or signal once it ended by itself or by a signal; undefined while it runs. */
  readonly ended: () => string | undefined
  readonly kill: (signal: NodeJS.Signals) => void
  /** Waits until the process is gone (and reaped). */
  readonly gone: Effect.Effect<void>
}

/** `node dist/kernel/main.js <config>` as production runs it, on the emulator; output appended to kernel.log. */
export const startKernel = (w: ChaosRoot, emulatorHost: string, generation: number): Kernel => {
  const log = createWriteStream(w.kernelLog, { flags: "a" })
  log.write(`\n===== kernel ${generation} =====\n`)
  const env: NodeJS.ProcessEnv = { ...process.env, FIRESTORE_EMULATOR_HOST: emulatorHost }
  delete env.LOMI_EXECHOST_EXTERNAL
  delete env.LOMI_SANDBOX_ENABLED
  const child = spawn(process.execPath, [KERNEL_BUNDLE, w.configFile], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"], env })
  let ready = false
  let ended: string | undefined
  child.stderr?.pipe(log, { end: false })
  linesOf(child, (line) => {
    log.write(`${line}\n`)
    if (line.trim().startsWith("data: ")) ready = true
  })
  child.once("exit", (code, signal) => {
    ended = signal ?? String(code)
    log.end()
  })
  return {
    pid: child.pid ?? 0,
    ready: () => ready,
    ended: () => ended,
    kill: (signal) => tryKill(child.pid ?? 0, signal),
    gone: Effect.gen(function* () {
      while (ended === undefined) yield* Effect.sleep("10 millis")
    })
  }
}

/**
 * An operator's kill of one run through the kernel's control socket (as the
 * dashboard sends it), on a fresh connection each time: a kernel lives only
 * seconds here, and a long-lived client would be between redials.
 */
export const controlClient = (w: ChaosRoot) => ({
  kill: (run: number): Effect.Effect<CommandResult | undefined> =>
    Effect.scoped(
      Effect.gen(function* () {
        const client = yield* connect({
          socketPath: controlSocketPath(w.config.dataDir),
          protocol: ControlProtocol,
          onEvent: () => Effect.void,
          dialTimeout: "300 millis",
          callTimeout: "10 seconds"
        })
        yield* client.awaitConnected("500 millis")
        return yield* client.call(new ExecuteCommand({ user: "chaos", command: { _tag: "kill", run } }))
      })
    ).pipe(Effect.orElseSucceed(() => undefined))
})

// --- readers ---

interface RawDatabase {
  prepare(sql: string): { all(): ReadonlyArray<unknown> }
  close(): void
}
const Database = createRequire(import.meta.url)("better-sqlite3") as new (file: string, options: { readonly: boolean; fileMustExist: boolean }) => RawDatabase

/** Every job row, read through a read-only connection (the kernel may be writing). */
export const readRows = (w: ChaosRoot): ReadonlyArray<Row> => {
  const db = new Database(databaseFile(w.config.dataDir), { readonly: true, fileMustExist: true })
  try {
    return db.prepare("SELECT id, doc_id, state, attempt, exit_code, notes, error_message FROM job_runs ORDER BY id").all() as ReadonlyArray<Row>
  } finally {
    db.close()
  }
}

export const readMarkers = (w: ChaosRoot): ReadonlyArray<Marker> => {
  const dir = join(w.chaos, "markers")
  return readdirSync(dir).flatMap((name) => {
    try {
      const marker = parseMarker(name, readFileSync(join(dir, name), "utf8"))
      return marker === undefined ? [] : [marker]
    } catch {
      return []
    }
  })
}

export const runsDir = (w: ChaosRoot) => join(w.config.dataDir, "exechost", "runs")

/** The exits the host has recorded and not yet had acknowledged. */
export const readExitRecords = (w: ChaosRoot): ReadonlyArray<ExitRecord> => {
  const dir = runsDir(w)
  if (!existsSync(dir)) return []
  return readdirSync(dir).flatMap((id) => {
    try {
      const exit = JSON.parse(readFileSync(join(dir, id, "exit"), "utf8")) as { code: number | null; signal: string | null }
      return /^\d+$/.test(id) ? [{ run: Number(id), code: exit.code, signal: exit.signal }] : []
    } catch {
      return []
    }
  })
}

export const sleepMs = (ms: number) => Effect.sleep(Duration.millis(Math.max(0, Math.round(ms))))
