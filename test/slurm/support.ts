/** Shared pieces of the Slurm tests: a world of folders, executor options over a test cluster, specs. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { Effect, Exit, Scope } from "effect"
import type { PipelineSpec } from "../../kernel/ports/executor.ts"
import {
  makeSlurmExecutor,
  type SlurmConfig,
  type SlurmExecutorOptions,
  type SlurmExecutorShape
} from "../../kernel/process/slurm/executor.ts"
import type { SlurmCluster } from "./cluster.ts"

export const repoRoot = resolve(import.meta.dirname, "../..")
export const pipelineScript = join(repoRoot, "test/slurm/scripts/pipeline.sh")

export interface World {
  readonly root: string
  readonly dataDir: string
  readonly stateDir: string
  readonly base: string
  readonly user: string
  /** argv of the attempt runner compiled for these tests (runner-build.ts). */
  readonly runner: ReadonlyArray<string>
  readonly cleanup: () => void
}

/** Under /var/tmp (not /tmp): a sandboxed run gets a private /tmp, and the state folder must be shared with the node. */
export const makeWorld = (runner: ReadonlyArray<string>): World => {
  mkdirSync("/var/tmp", { recursive: true })
  const root = mkdtempSync(join(process.env["LOMI_SLURM_TEST_DIR"] ?? "/var/tmp", "lomi-slurm-test-"))
  const world: World = {
    runner,
    root,
    dataDir: join(root, "data"),
    stateDir: join(root, "data", "slurm"),
    base: join(root, "patients"),
    user: join(root, "user-data"),
    cleanup: () => rmSync(root, { recursive: true, force: true })
  }
  for (const d of [world.dataDir, world.stateDir, world.base, world.user]) mkdirSync(d, { recursive: true })
  return world
}

const resources = { cpus: 1, memoryMiB: 64, timeLimitMinutes: 10 }

export const slurmConfig = (cluster: SlurmCluster, overrides: Partial<SlurmConfig> = {}): SlurmConfig => ({
  kind: "slurm",
  partition: cluster.partition,
  services: { "Gen-Decoder": resources, "Epi-Insight": resources, "Omni-Health": resources },
  sbatchOptions: [],
  pollIntervalMs: 200,
  // The production default: this machine is shared and at times very loaded.
  commandTimeoutMs: 10_000,
  binDir: cluster.binDir,
  ...overrides
})

export const executorOptions = (
  cluster: SlurmCluster,
  world: World,
  overrides: Partial<SlurmExecutorOptions> = {}
): SlurmExecutorOptions => ({
  slurm: slurmConfig(cluster),
  stateDir: world.stateDir,
  // Built from the current source by the test (runner-build.ts), never a possibly stale dist/ bundle.
  runner: world.runner,
  paths: { patientBaseDir: world.base, userDataDir: world.user, minicondaBase: "", pipelinesRoot: join(world.root, "pipelines") },
  sandbox: { scratchRoot: join(world.root, "scratch"), bwrapPath: "bwrap", repoWriteWhitelist: [] },
  sandboxEnabled: false,
  nodeKillGraceMs: 500,
  ...overrides
})

let nextRunId = 1000
export const makeSpec = (world: World, env: Record<string, string> = {}, overrides: Partial<PipelineSpec> = {}): PipelineSpec => {
  const runId = nextRunId++
  const docId = `doc-${runId}`
  return {
    runId,
    docId,
    patientId: "P-1",
    service: "Epi-Insight",
    attempt: 1,
    script: pipelineScript,
    env,
    logFile: join(world.dataDir, "logs", docId, `run-${runId}`, "run.log.1"),
    ...overrides
  }
}

/** An executor in its own scope, to be closed (the allocator going away) independently of the jobs. */
export const openExecutor = async (options: SlurmExecutorOptions): Promise<{ executor: SlurmExecutorShape; close: () => Promise<void> }> => {
  const scope = await Effect.runPromise(Scope.make())
  const executor = await Effect.runPromise(Scope.extend(makeSlurmExecutor(options), scope))
  return { executor, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

export const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

export const readText = (file: string): string => {
  try {
    return readFileSync(file, "utf8")
  } catch {
    return ""
  }
}

export const eventually = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

export const pidAlive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]
    return state !== "Z" && state !== "X"
  } catch {
    return false
  }
}

/** The controller's state of a job, or undefined once it has forgotten it. */
export const jobState = async (cluster: SlurmCluster, jobId: string): Promise<string | undefined> => {
  const r = await cluster.client("squeue", ["-h", "-t", "all", `--jobs=${jobId}`, "-o", "%T"])
  const state = r.stdout.trim()
  return r.code === 0 && state !== "" ? state : undefined
}

/** The cluster and a world whose attempt runner is freshly built, started side by side (a test file's beforeAll). */
export const startClusterAndWorld = async (): Promise<{ cluster: SlurmCluster; world: World }> => {
  const { startSlurmCluster } = await import("./cluster.ts")
  const { buildRunner } = await import("./runner-build.ts")
  const [cluster, runner] = await Promise.all([
    startSlurmCluster(),
    buildRunner("kernel/process/slurm/run-attempt.ts", mkdtempSync(join(tmpdir(), "lomi-runner-")))
  ])
  return { cluster, world: makeWorld(runner) }
}
