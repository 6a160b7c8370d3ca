/**
 * Execution-host test harness: a real host (in this process, or as its own
 * process started like production), real monitors, real pipelines
 * (test/integration/scripts/pipeline.sh driven by control files).
 */
import { execFileSync, spawn } from "node:child_process"
import { copyFileSync, existsSync, openSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Duration, Effect, Logger, LogLevel, Schema, type Scope } from "effect"
import { StaticConfig } from "../../schemas/config.ts"
import { dial } from "../../kernel/ipc/dial.ts"
import { serve } from "../../kernel/ipc/server.ts"
import { makeExecHostExecutor } from "../../kernel/exechost/client.ts"
import { makeHost } from "../../kernel/exechost/host.ts"
import { hostLaunchers } from "../../kernel/exechost/launchers.ts"
import { HostProtocol, hostSocket } from "../../kernel/exechost/protocol.ts"
import type { Launcher } from "../../kernel/process/launch.ts"
import { SpawnError, type PipelineSpec } from "../../kernel/ports/executor.ts"

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const PIPELINE = join(ROOT, "test", "integration", "scripts", "pipeline.sh")

export interface TestRoot {
  readonly root: string
  readonly script: string
  readonly ctl: string
  readonly config: StaticConfig
}

/**
 * A fresh root (removed with the scope): bin/pipeline.sh and its control dir,
 * data/, base/, user/, scratch/. Every service runs the integration pipeline.
 */
export const tempRoot: Effect.Effect<TestRoot, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => {
    const root = mkdtempSync(join(tmpdir(), "lomi-eh-"))
    const ctl = join(root, "bin", "ctl")
    for (const dir of [ctl, join(root, "base"), join(root, "user"), join(root, "pipelines"), join(root, "data")]) mkdirSync(dir, { recursive: true })
    const script = join(root, "bin", "pipeline.sh")
    copyFileSync(PIPELINE, script)
    const service = { script, env: { LOMI_TEST_CTL: ctl } }
    const config: StaticConfig = {
      dataDir: join(root, "data"),
      timezone: "UTC",
      firestore: { mode: "embedded", projectId: "lomi-eh", connectivityTimeoutMs: 2000 },
      services: { "Gen-Decoder": service, "Epi-Insight": service, "Omni-Health": service },
      paths: { patientBaseDir: join(root, "base"), userDataDir: join(root, "user"), minicondaBase: "", pipelinesRoot: join(root, "pipelines") },
      sandbox: { scratchRoot: join(root, "scratch"), bwrapPath: "bwrap", cacheDir: join(root, "cache"), repoWriteWhitelist: [] },
      mail: {
        host: "127.0.0.1",
        port: 9,
        secure: false,
        ignoreTLS: true,
        from: "a@lab.test",
        dashboardUrl: "http://dash.test",
        recipients: { upload_reminder: [], permanent_failure: [], manual_add: [] }
      },
      health: { geminiBaseUrl: "http://127.0.0.1:9", ocrUrl: "http://127.0.0.1:9", ttlSeconds: 60, timeoutMs: 1000 },
      http: { host: "127.0.0.1", port: 0, users: [] }
    }
    return { root, script, ctl, config }
  }),
  (t) =>
    Effect.sync(() => {
      // Whatever a failed test left running under this root (hosts, monitors, pipelines) goes with it.
      for (const pid of liveMatching(t.root)) tryKill(-pid, "SIGKILL")
      for (const pid of liveMatching(t.root)) tryKill(pid, "SIGKILL")
      rmSync(t.root, { recursive: true, force: true })
    })
)

/** The integration pipeline's control files (see test/integration/scripts/pipeline.sh). */
export const control = (t: { readonly ctl: string }) => {
  const file = (name: string) => join(t.ctl, name)
  const readPid = (name: string): number | undefined => {
    if (!existsSync(file(name))) return undefined
    const pid = Number(readFileSync(file(name), "utf8").trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  }
  return {
    exitWith: (doc: string, code: number) => {
      writeFileSync(file(`.${doc}.exit.tmp`), `${code}\n`)
      renameSync(file(`.${doc}.exit.tmp`), file(`${doc}.exit`))
    },
    gate: (doc: string) => writeFileSync(file(`${doc}.gate`), ""),
    open: (doc: string) => writeFileSync(file(`${doc}.go`), ""),
    fork: (doc: string, token: string) => writeFileSync(file(`${doc}.fork`), token),
    pid: (doc: string, attempt: number) => readPid(`${doc}.${attempt}.pid`),
    grandchildPid: (doc: string, attempt: number) => readPid(`${doc}.${attempt}.gcpid`)
  }
}

/** A spec for `runId` running the integration pipeline for `doc-<runId>`. */
export const specFor = (t: TestRoot, runId: number, env: Record<string, string> = {}): PipelineSpec => {
  const docId = `doc-${runId}`
  return {
    runId,
    docId,
    patientId: "P-1",
    service: "Epi-Insight",
    attempt: 1,
    script: t.script,
    env: { LOMI_TEST_CTL: t.ctl, LOMI_ATTEMPT: "1", LOMI_RUN_ID: String(runId), ...env },
    logFile: join(t.config.dataDir, "logs", docId, `run-${runId}`, "run.log.1")
  }
}

const statOf = (pid: number): { readonly state: string; readonly pgrp: number } | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return { state: rest[0] ?? "", pgrp: Number(rest[2]) }
  } catch {
    return undefined
  }
}

/** Present and not a zombie. */
export const isLive = (pid: number): boolean => {
  const s = statOf(pid)
  return s !== undefined && s.state !== "Z" && s.state !== "X"
}

/** Live processes whose command line contains `needle`. */
export const liveMatching = (needle: string): ReadonlyArray<number> =>
  readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid && isLive(Number(n)))
    .filter((n) => {
      try {
        return readFileSync(`/proc/${n}/cmdline`, "utf8").split("\0").join(" ").includes(needle)
      } catch {
        return false
      }
    })
    .map(Number)

/** The monitor, built by make if this test runs on its own. */
export const MONITOR = (() => {
  execFileSync("make", ["-s", "monitor"], { cwd: ROOT, stdio: "ignore" })
  return join(ROOT, ".build", "lomi-monitor")
})()

/** Plain launcher; a spec whose env has LOMI_TEST_ERROR is failed by the "executor" with that message (as a refused commit is). */
export const testLaunchers = (config: StaticConfig) => {
  const real = hostLaunchers(config)
  return (sandbox: boolean, discard?: (dir: string) => void): Effect.Effect<Launcher, SpawnError> =>
    Effect.map(real(sandbox, discard), (launcher) => ({
      ...launcher,
      finish: (spec: PipelineSpec, raw) =>
        Effect.map(launcher.finish(spec, raw), (exit) =>
          spec.env.LOMI_TEST_ERROR === undefined ? exit : { ...exit, errorMessage: spec.env.LOMI_TEST_ERROR }
        )
    }))
}

/** A host served from this process (its monitors are real processes all the same). */
export const inProcessHost = (config: StaticConfig) =>
  Effect.gen(function* () {
    const host = yield* makeHost({
      dataDir: config.dataDir,
      monitorPath: MONITOR,
      launcherFor: testLaunchers(config),
      graceMs: 300,
      sweepEvery: "200 millis"
    })
    const server = yield* serve({ socketPath: hostSocket(config.dataDir), protocol: HostProtocol, handlers: host.handlers, onConnect: host.onConnect })
    host.setPublish(server.publish)
    return host
  }).pipe(Logger.withMinimumLogLevel(LogLevel.Warning))

/** A client of a host the test started itself; `sandbox` picks the launcher its starts ask for. */
export const clientOf = (config: StaticConfig, sandbox = false) =>
  makeExecHostExecutor({ dataDir: config.dataDir, sandbox, spawnHost: false, configFile: "", startupTimeout: "120 seconds", callTimeout: "60 seconds" })

export const writeConfig = (config: StaticConfig, file: string) =>
  Effect.gen(function* () {
    const encoded = yield* Schema.encode(StaticConfig)(config).pipe(Effect.orDie)
    mkdirSync(config.dataDir, { recursive: true })
    writeFileSync(file, JSON.stringify(encoded))
  })

export interface HostProcess {
  readonly pid: number
  readonly kill: (signal: NodeJS.Signals) => void
}

/** The host as production runs it (`node --import tsx kernel/exechost/main.ts config.json`); SIGKILLed with the scope if still there. */
export const hostProcess = (
  configFile: string,
  dataDir: string,
  command: ReadonlyArray<string> = ["--import", "tsx", join(ROOT, "kernel/exechost/main.ts")]
): Effect.Effect<HostProcess, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const log = join(dataDir, "exechost.test.log")
      mkdirSync(dataDir, { recursive: true })
      const child = spawn(process.execPath, [...command, configFile], {
        cwd: ROOT,
        detached: true,
        stdio: ["ignore", openSync(log, "a"), openSync(log, "a")],
        env: { ...process.env, LOMI_MONITOR: MONITOR }
      })
      const pid = child.pid ?? 0
      child.unref()
      // The socket file of a SIGKILLed host stays behind: wait for an answer, not for the file.
      const deadline = Date.now() + 150_000
      while (isLive(pid) && !(yield* dial(hostSocket(dataDir), 500))) {
        if (Date.now() > deadline) return yield* Effect.dieMessage(`no host answered within 150 s; see ${log}`)
        yield* Effect.sleep(Duration.millis(100))
      }
      if (!isLive(pid)) return yield* Effect.dieMessage(`host exited at start; see ${log}`)
      return { pid, kill: (signal: NodeJS.Signals) => tryKill(pid, signal) }
    }),
    (h) => Effect.sync(() => tryKill(h.pid, "SIGKILL"))
  )

export const tryKill = (pid: number, signal: NodeJS.Signals | 0) => {
  try {
    process.kill(pid, signal)
  } catch {
    // gone
  }
}

/** Polls `ok` until true, or dies with `what` after `within`. */
export const waitUntil = (what: string, ok: () => boolean, within: Duration.DurationInput = Duration.seconds(90)) =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(Duration.decode(within))
    while (!ok()) {
      if (Date.now() > deadline) return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      yield* Effect.sleep(Duration.millis(25))
    }
  })
