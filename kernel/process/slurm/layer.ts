/**
 * The Slurm executor as the allocator's `Executor`, from the static config
 * (`executor.kind = "slurm"`) and the restart-required tunables. The job id of
 * each submitted attempt is stored on its row (`job_runs.external_id`) for the
 * dashboard.
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Duration, Effect, Layer } from "effect"
import type { StaticConfig } from "../../../schemas/config.ts"
import { databaseFile } from "../../paths.ts"
import { Executor } from "../../ports/executor.ts"
import { JobStore } from "../../store/jobs.ts"
import { TunableStore } from "../../store/tunables.ts"
import { defaultKillGrace } from "../common.ts"
import { makeSlurmExecutor, type SlurmConfig, type SlurmExecutorOptions } from "./executor.ts"

/** This install's root (the bundle maps import.meta.url to the source file, so this holds compiled too). */
const installDir = (): string => fileURLToPath(new URL("../../../", import.meta.url))

/**
 * How a compute node runs one attempt: the compiled runner (`make build`) with
 * this node binary when it exists, else tsx on the source. Both paths must be
 * the same on the compute nodes (install the allocator on the shared filesystem).
 */
export const defaultRunner = (root: string = installDir()): ReadonlyArray<string> => {
  const compiled = join(root, "dist/kernel/process/slurm/run-attempt.js")
  return existsSync(compiled)
    ? [process.execPath, compiled]
    : [join(root, "node_modules/.bin/tsx"), join(root, "kernel/process/slurm/run-attempt.ts")]
}

export const slurmExecutorOptions = (
  config: StaticConfig,
  slurm: SlurmConfig,
  sandboxEnabled: boolean
): SlurmExecutorOptions => {
  const stateDir = slurm.stateDir ?? join(config.dataDir, "slurm")
  const db = databaseFile(config.dataDir)
  return {
    slurm,
    stateDir,
    runner: slurm.runner ?? defaultRunner(),
    paths: config.paths,
    sandbox: config.sandbox,
    sandboxEnabled,
    // Other runs' attempt files carry their environment; the database is the allocator's own.
    hidden: [db, `${db}-wal`, `${db}-shm`, stateDir],
    nodeKillGraceMs: Duration.toMillis(defaultKillGrace)
  }
}

export const slurmExecutorLayer = (config: StaticConfig, slurm: SlurmConfig) =>
  Layer.scoped(
    Executor,
    Effect.gen(function* () {
      const tunables = yield* (yield* TunableStore).get
      const jobs = yield* JobStore
      const options = slurmExecutorOptions(config, slurm, tunables.SANDBOX_ENABLED === 1)
      yield* Effect.log(`pipelines run on Slurm partition ${slurm.partition}; job records in ${options.stateDir}`)
      return yield* makeSlurmExecutor({ ...options, onSubmitted: (runId, jobId) => jobs.setExternalId(runId, jobId) })
    })
  )
