/**
 * Integration harness: a whole allocator (allocatorLayer) on a real SQLite
 * file in a temporary directory, on the live clock, with real ports where a
 * test asks for them (child processes, bubblewrap, an SMTP server, the
 * Firestore emulator) and the in-memory doubles elsewhere.
 *
 * Every test gets its own directory under the OS temp dir:
 *
 *   <root>/bin/pipeline.sh   copy of scripts/pipeline.sh (every service runs it)
 *   <root>/bin/ctl/          per-document behaviour files the test writes (see the script)
 *   <root>/data/             dataDir: allocator.db, logs/<doc>/run-<id>/run.log.<attempt>
 *   <root>/base, <root>/user patient trees
 *   <root>/scratch, cache, home   sandbox scratch and its ~/.cache
 *
 * The script lives beside its control files, not in the repository, because
 * the sandbox hides the host's /tmp except for the script's own directory
 * (bound read-only), so a sandboxed run still sees what the test wrote.
 *
 * Nothing here sleeps a fixed time: tests wait for states by polling, with a
 * deadline that fails the test with what was seen last.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Context, Duration, Effect, Layer, Logger, LogLevel, Queue, type Scope } from "effect"
import type { StaticConfig } from "../../schemas/config.ts"
import type { AllocatorEvent } from "../../schemas/events.ts"
import type { JobRun } from "../../schemas/job.ts"
import type { ReportData } from "../../schemas/report.ts"
import type { TunableKey } from "../../schemas/tunables.ts"
import { CommandBus } from "../../kernel/commandBus.ts"
import { AppConfig } from "../../kernel/config.ts"
import { EventBus } from "../../kernel/events.ts"
import { embeddedFirestoreLayer } from "../../kernel/firestore/embedded.ts"
import { memoryFirestoreLayer, type MemorySeed } from "../../kernel/firestore/memory.ts"
import { CaptureMailerLive } from "../../kernel/mail/capture.ts"
import { SmtpMailerLive } from "../../kernel/mail/smtp.ts"
import { databaseFile, runLogFile } from "../../kernel/paths.ts"
import type { FirestorePort } from "../../kernel/ports/firestore.ts"
import type { Mailer } from "../../kernel/ports/mailer.ts"
import { makeExecHostExecutor } from "../../kernel/exechost/client.ts"
import { Executor } from "../../kernel/ports/executor.ts"
import { allocatorLayer, storeLayer } from "../../kernel/runtime.ts"
import { HoldStore } from "../../kernel/store/holds.ts"
import { JobStore } from "../../kernel/store/jobs.ts"
import { NotificationLog, type NotificationRow } from "../../kernel/store/notifications.ts"
import { TunableStore } from "../../kernel/store/tunables.ts"
import { control, inProcessHost, liveMatching, tryKill } from "../exechost/support.ts"

export const SCRIPTS_DIR = fileURLToPath(new URL("./scripts/", import.meta.url))

/** `LOMI_TEST_LOG=Debug npx vitest run test/integration` shows the allocator's logs. */
const logLevel = (): LogLevel.LogLevel => {
  const wanted = process.env.LOMI_TEST_LOG
  return LogLevel.allLevels.find((l) => l.label.toLowerCase() === wanted?.toLowerCase()) ?? LogLevel.None
}

/** Wraps a test body: the allocator's log level for it. */
export const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) => Logger.withMinimumLogLevel(effect, logLevel())

// --- directories and configuration ---

export interface TestRoot {
  readonly root: string
  readonly script: string
  readonly ctl: string
}

/** A fresh temporary root (removed with the scope), laid out as in the header. */
export const tempRoot: Effect.Effect<TestRoot, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => {
    const root = mkdtempSync(join(tmpdir(), "lomi-int-"))
    const bin = join(root, "bin")
    const ctl = join(bin, "ctl")
    for (const dir of [bin, ctl, join(root, "base"), join(root, "user"), join(root, "pipelines"), join(root, "home")]) {
      mkdirSync(dir, { recursive: true })
    }
    const script = join(bin, "pipeline.sh")
    copyFileSync(join(SCRIPTS_DIR, "pipeline.sh"), script)
    return { root, script, ctl }
  }),
  ({ root }) =>
    Effect.sync(() => {
      // Pipelines outlive the allocator by design: whatever a failed test left running under this root goes with it.
      for (const pid of liveMatching(root)) tryKill(-pid, "SIGKILL")
      for (const pid of liveMatching(root)) tryKill(pid, "SIGKILL")
      rmSync(root, { recursive: true, force: true })
    })
)

export const DASHBOARD_URL = "http://dash.test:8080"

/** Every service runs the test pipeline; `edit` changes anything else. */
export const integrationConfig = (t: TestRoot, edit: (c: StaticConfig) => StaticConfig = (c) => c): StaticConfig => {
  const service = { script: t.script, env: { LOMI_TEST_CTL: t.ctl } }
  return edit({
    dataDir: join(t.root, "data"),
    timezone: "UTC",
    firestore: { mode: "embedded", projectId: "lomi-int", connectivityTimeoutMs: 2000 },
    services: { "Gen-Decoder": service, "Epi-Insight": service, "Omni-Health": service },
    paths: {
      patientBaseDir: join(t.root, "base"),
      userDataDir: join(t.root, "user"),
      minicondaBase: "",
      pipelinesRoot: join(t.root, "pipelines")
    },
    sandbox: { scratchRoot: join(t.root, "scratch"), bwrapPath: "bwrap", cacheDir: join(t.root, "cache"), repoWriteWhitelist: [] },
    mail: {
      host: "127.0.0.1",
      port: 9,
      secure: false,
      ignoreTLS: true,
      from: "Lomi Allocator <allocator@lab.test>",
      dashboardUrl: DASHBOARD_URL,
      recipients: {
        upload_reminder: ["lab@lab.test", "uploads@lab.test"],
        permanent_failure: ["ops@lab.test"],
        manual_add: ["lab@lab.test"]
      }
    },
    health: { geminiBaseUrl: "http://127.0.0.1:9", ocrUrl: "http://127.0.0.1:9", ttlSeconds: 60, timeoutMs: 1000 },
    http: { host: "127.0.0.1", port: 0, users: [] }
  })
}

// --- ports ---

/**
 * Pipelines belong to a real execution host (real monitors, real bwrap when
 * sandboxed) served from this process and living in the allocator's layer:
 * closing the allocator's scope stops that host, never its pipelines, which
 * the next start's host finds again, as in production.
 */
const hostExecutor = (config: StaticConfig, sandbox: boolean): Layer.Layer<Executor> =>
  Layer.scoped(
    Executor,
    Effect.gen(function* () {
      yield* inProcessHost(config)
      return yield* makeExecHostExecutor({
        dataDir: config.dataDir,
        sandbox,
        spawnHost: false,
        configFile: "",
        startupTimeout: "120 seconds",
        callTimeout: "60 seconds"
      })
    }).pipe(Effect.orDie)
  )

/** Pipelines on the real trees (SANDBOX_ENABLED=0). */
export const plainExecutor = (config: StaticConfig) => hostExecutor(config, false)

/** Pipelines in bubblewrap (SANDBOX_ENABLED=1). */
export const sandboxExecutor = (config: StaticConfig, _t: TestRoot) => hostExecutor(config, true)

export const memoryPorts = (seed: MemorySeed = {}) => Layer.merge(memoryFirestoreLayer(seed), CaptureMailerLive())

export const smtpPorts = (config: StaticConfig) =>
  Layer.merge(
    memoryFirestoreLayer(),
    SmtpMailerLive(config.mail, { connectionTimeoutMs: 5000, greetingTimeoutMs: 5000, socketTimeoutMs: 5000, sendTimeoutMs: 10_000 })
  )

export const emulatorPorts = (config: StaticConfig, seedDir: string) =>
  Layer.merge(embeddedFirestoreLayer(config, seedDir), CaptureMailerLive())

// --- the allocator ---

export type TunableValues = Partial<Record<TunableKey, number>>

/** Short delays for real processes on the live clock. */
export const FAST: TunableValues = {
  RETRY_DELAY_SECONDS: 0,
  TEMP_FAIL_RETRY_DELAY_SECONDS: 1,
  COOLDOWN_SECONDS: 0,
  KILL_GRACE_MS: 100
}

/** Stores tunables before the allocator starts (MAX_WORKERS and SANDBOX_ENABLED are read once at start). */
const seedTunables = (file: string, values: TunableValues) =>
  Effect.gen(function* () {
    const store = yield* TunableStore
    for (const [key, value] of Object.entries(values)) {
      if (value !== undefined) yield* Effect.orDie(store.set(key, value, "test"))
    }
  }).pipe(Effect.provide(storeLayer(file).pipe(Layer.provide(EventBus.Default), Layer.orDie)), Effect.scoped)

export interface StartOptions<W, E1, E2> {
  readonly config: StaticConfig
  /** FirestorePort and Mailer (plus whatever control handles they come with). */
  readonly ports: Layer.Layer<W | FirestorePort | Mailer, E1>
  readonly executor: Layer.Layer<Executor, E2>
  readonly tunables?: TunableValues
}

/**
 * Builds the ports, then `allocatorLayer` on `<dataDir>/allocator.db`, in the
 * caller's scope (closing it stops every actor and the in-process host; pipelines keep running).
 * `run` provides both to an effect.
 */
export const startAllocator = <W, E1, E2>(options: StartOptions<W, E1, E2>) =>
  Effect.gen(function* () {
    const { config } = options
    const file = databaseFile(config.dataDir)
    yield* seedTunables(file, options.tunables ?? {})
    const world = yield* Layer.build(
      Layer.mergeAll(options.ports, Layer.succeed(AppConfig, config)).pipe(Layer.provideMerge(EventBus.Default))
    )
    const allocator = yield* Layer.build(allocatorLayer(file, options.executor).pipe(Layer.provide(Layer.succeedContext(world))))
    const context = Context.merge(world, allocator)
    type Services = typeof context extends Context.Context<infer S> ? S : never
    const run = <A, E, R extends Services | Scope.Scope>(effect: Effect.Effect<A, E, R>) =>
      Effect.provide(effect, context) as Effect.Effect<A, E, Exclude<R, Services>>
    return { config, run }
  })

// --- waiting ---

export interface WaitOptions {
  readonly timeoutMs?: number
  readonly intervalMs?: number
}

/**
 * Polls `probe` until it yields something other than undefined / false;
 * fails with `label` and the last `explain` after the deadline.
 */
export const eventually = <A, E, R>(
  label: string,
  probe: Effect.Effect<A | undefined | false, E, R>,
  options: WaitOptions & { readonly explain?: Effect.Effect<string, never, R> } = {}
): Effect.Effect<A, E, R> =>
  Effect.gen(function* () {
    const timeoutMs = options.timeoutMs ?? 30_000
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const value = yield* probe
      if (value !== undefined && value !== false) return value
      if (Date.now() > deadline) {
        const detail = options.explain === undefined ? "" : `\n${yield* options.explain}`
        return yield* Effect.dieMessage(`timed out after ${timeoutMs} ms waiting for ${label}${detail}`)
      }
      yield* Effect.sleep(Duration.millis(options.intervalMs ?? 50))
    }
  })

const rowsText = (rows: ReadonlyArray<JobRun>) =>
  rows
    .map((r) => `  #${r.id} ${r.doc_id} ${r.service} attempt=${r.attempt} ${r.state} exit=${r.exit_code} notes=${r.notes} error=${r.error_message}`)
    .join("\n") || "  (no rows)"

export const rowsFor = (docId: string) => Effect.flatMap(JobStore, (jobs) => jobs.rowsForDoc(docId))

/** Waits until the document's rows satisfy `done`; returns them. */
export const waitForRows = (docId: string, label: string, done: (rows: ReadonlyArray<JobRun>) => boolean, options: WaitOptions = {}) =>
  eventually(
    `${docId}: ${label}`,
    Effect.map(rowsFor(docId), (rows) => (done(rows) ? rows : undefined)),
    { ...options, explain: Effect.map(Effect.flatMap(JobStore, (j) => j.all), (all) => `rows:\n${rowsText(all)}`) }
  )

/** Waits until the document's newest row is in `state`. */
export const waitForState = (docId: string, state: JobRun["state"], options: WaitOptions = {}) =>
  waitForRows(docId, `newest row ${state}`, (rows) => rows.at(-1)?.state === state, options).pipe(
    Effect.map((rows) => rows.at(-1) as JobRun)
  )

export const notifications = Effect.flatMap(NotificationLog, (log) => log.recent(1000)).pipe(
  Effect.map((rows): ReadonlyArray<NotificationRow> => [...rows].reverse())
)

export const waitForNotification = (template: string, docId: string, options: WaitOptions = {}) =>
  eventually(
    `a ${template} notification for ${docId}`,
    Effect.map(notifications, (rows) => rows.find((r) => r.template === template && r.doc_id === docId)),
    { ...options, explain: Effect.map(notifications, (rows) => `notifications_log: ${JSON.stringify(rows)}`) }
  )

/** Every event the allocator publishes from now on, collected in the background. */
export const recordEvents = Effect.gen(function* () {
  const queue = yield* (yield* EventBus).subscribe
  const seen: Array<AllocatorEvent> = []
  yield* Queue.take(queue).pipe(
    Effect.tap((event) => Effect.sync(() => seen.push(event))),
    Effect.forever,
    Effect.forkScoped
  )
  return { all: (): ReadonlyArray<AllocatorEvent> => [...seen] }
})

export const execute = (command: Parameters<CommandBus["execute"]>[1], user = "tester") =>
  Effect.flatMap(CommandBus, (bus) => bus.execute(user, command))

export const holds = Effect.flatMap(HoldStore, (h) => h.all)

// --- documents ---

export const dataReady = (service: string, patientId = "P-1", extra: ReportData = {}): ReportData => ({
  status: "Data Ready",
  service,
  patientId,
  patientName: "Ada Lovelace",
  ...extra
})

/** The attempt's own log file (kernel/paths.ts), or "" when it was never written. */
export const runLog = (config: StaticConfig, run: JobRun): string => {
  const file = runLogFile(config.dataDir, run.doc_id, run.id, run.attempt)
  return existsSync(file) ? readFileSync(file, "utf8") : ""
}

/** Sandbox scratch directories present under `<root>/scratch`. */
export const scratchRuns = (t: TestRoot): ReadonlyArray<string> => {
  const dir = join(t.root, "scratch")
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith("run-")) : []
}

// --- pipeline control (scripts/pipeline.sh): exitWith, gate/open, fork, pid ---

export { control }

// --- processes (Linux /proc) ---

const statOf = (pid: string): { readonly state: string; readonly pgrp: number } | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return { state: rest[0] ?? "", pgrp: Number(rest[2]) }
  } catch {
    return undefined
  }
}

const cmdlineOf = (pid: string): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ")
  } catch {
    return ""
  }
}

/** Present and not a zombie (a zombie holds nothing; some container inits never reap them). */
export const isLive = (pid: number): boolean => {
  const s = statOf(String(pid))
  return s !== undefined && s.state !== "Z" && s.state !== "X"
}

const livePids = (): ReadonlyArray<string> => readdirSync("/proc").filter((n) => /^\d+$/.test(n) && isLive(Number(n)))

/** Live members of process group `pgid`. */
export const liveGroupMembers = (pgid: number): ReadonlyArray<number> =>
  livePids().filter((p) => statOf(p)?.pgrp === pgid).map(Number)

/** Live processes whose command line contains `needle` (works across pid namespaces). */
export const liveProcessesMatching = (needle: string): ReadonlyArray<{ readonly pid: number; readonly cmdline: string }> =>
  livePids()
    .map((p) => ({ pid: Number(p), cmdline: cmdlineOf(p) }))
    .filter((p) => p.cmdline.includes(needle) && p.pid !== process.pid)
