/** Shared fixtures for the process-port suites: temporary worlds, specs, /proc probes. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Duration, Effect, Logger, LogLevel } from "effect"
import type { PipelineExit, PipelineSpec, ProcessPortShape } from "../../kernel/ports/process.ts"
import type { SandboxExecutorOptions } from "../../kernel/process/sandbox.ts"

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
export const testScript = (name: string) => path.join(repoRoot, "fixtures/pipelines/test", name)
export const demoScript = (name: string) => path.join(repoRoot, "fixtures/pipelines", name)

/**
 * A temporary host layout. By default under /var/tmp rather than /tmp: the
 * sandbox hides the host's /tmp, and production trees (/data/...) are not
 * under /tmp either, so paths stay visible (read-only) inside the sandbox.
 */
export interface World {
  readonly root: string
  readonly base: string
  readonly user: string
  readonly pipelines: string
  readonly scratch: string
  readonly logs: string
  readonly cache: string
  readonly home: string
  readonly cleanup: () => void
}

export const makeWorld = (parent = "/var/tmp", scratchParent?: string): World => {
  const root = mkdtempSync(path.join(parent, "lomi-proc-test-"))
  const scratchRoot = scratchParent === undefined ? undefined : mkdtempSync(path.join(scratchParent, "lomi-proc-scratch-"))
  const world = {
    root,
    base: path.join(root, "base"),
    user: path.join(root, "user"),
    pipelines: path.join(root, "pipelines"),
    scratch: scratchRoot ?? path.join(root, "scratch"),
    logs: path.join(root, "logs"),
    cache: path.join(root, "cache"),
    home: path.join(root, "home"),
    cleanup: () => {
      rmSync(root, { recursive: true, force: true })
      if (scratchRoot !== undefined) rmSync(scratchRoot, { recursive: true, force: true })
    }
  }
  for (const dir of [world.base, world.user, world.pipelines, world.logs, world.home]) mkdirSync(dir, { recursive: true })
  return world
}

export const sandboxOptions = (world: World, extra: Partial<SandboxExecutorOptions> = {}): SandboxExecutorOptions => ({
  patientBaseDir: world.base,
  userDataDir: world.user,
  minicondaBase: "/opt/conda-test",
  pipelinesRoot: world.pipelines,
  scratchRoot: world.scratch,
  bwrapPath: "/usr/bin/bwrap",
  cacheDir: world.cache,
  home: world.home,
  repoWriteWhitelist: [],
  killGrace: Duration.millis(500),
  ...extra
})

let nextRun = 1
export const freshRunId = () => nextRun++ + (process.pid % 1000) * 1000

export const makeSpec = (world: World, overrides: Partial<PipelineSpec> = {}): PipelineSpec => {
  const runId = overrides.runId ?? freshRunId()
  return {
    runId,
    docId: `doc-${runId}`,
    patientId: "P001",
    service: "Epi-Insight",
    attempt: 1,
    script: testScript("exit-with-code.sh"),
    env: {},
    logFile: path.join(world.logs, `doc-${runId}`, "run.log.1"),
    ...overrides
  }
}

/** Starts the pipeline, waits for it, closes the scope (copy-back, cleanup). */
export const runToExit = (port: ProcessPortShape, spec: PipelineSpec): Effect.Effect<PipelineExit, unknown> =>
  Effect.scoped(Effect.flatMap(port.start(spec), (running) => running.exit))

export const readLog = (spec: PipelineSpec): string => readFileSync(spec.logFile, "utf8")

/** Waits (real time) until `check` holds, failing after `timeout`. */
export const eventually = <A>(
  check: Effect.Effect<A | undefined>,
  timeout: Duration.DurationInput = Duration.seconds(10)
): Effect.Effect<A, Error> =>
{
  const loop: Effect.Effect<A> = Effect.flatMap(check, (a) =>
    a === undefined ? Effect.zipRight(Effect.sleep(Duration.millis(20)), Effect.suspend(() => loop)) : Effect.succeed(a)
  )
  return loop.pipe(Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error("condition not reached in time") }))
}

const procState = (pid: string): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]
  } catch {
    return undefined
  }
}

/** True while `pid` exists and is not a zombie (this host's pid 1 does not reap orphans). */
export const alive = (pid: number): boolean => {
  const state = procState(String(pid))
  return state !== undefined && state !== "Z" && state !== "X"
}

/** Live (non-zombie) pids whose command line contains `token`. */
export const pidsMatching = (token: string): Array<number> =>
  readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(token)
      } catch {
        return false
      }
    })
    .filter((pid) => {
      const state = procState(pid)
      return state !== undefined && state !== "Z" && state !== "X"
    })
    .map(Number)

/** Live (non-zombie) members of a process group. */
export const groupPids = (pgid: number): Array<number> =>
  readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
        const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
        return Number(rest[2]) === pgid && rest[0] !== "Z" && rest[0] !== "X"
      } catch {
        return false
      }
    })
    .map(Number)

export const exists = (p: string): boolean => existsSync(p)

/** Keeps the executors' info logs out of the test output. */
export const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Logger.withMinimumLogLevel(effect, LogLevel.Error)
