/**
 * The plain executor: the legacy direct-to-disk path. The pipeline runs as
 * `bash <script> <docId> <patientId> <service>` on the real patient trees,
 * exactly as before the sandbox existed; only safe with one worker.
 */
import * as path from "node:path"
import { Duration, Effect, Layer } from "effect"
import { ProcessPort, type ProcessPortShape } from "../ports/process.ts"
import type { StaticConfig } from "../../schemas/config.ts"
import { defaultKillGrace, pipelineEnv, requireSafePatient, requireScript, runAnnotations } from "./common.ts"
import { spawnGroup } from "./group.ts"
import { INSTANCE_VAR, killOrphans } from "./orphans.ts"

export interface PlainExecutorOptions {
  /** Real patient base root (`<patientBaseDir>/<patientId>/`). */
  readonly patientBaseDir: string
  /** Real user-data root (`<userDataDir>/<patientId>/`). */
  readonly userDataDir: string
  /** Exported as LOMI_MINICONDA_BASE when not empty. */
  readonly minicondaBase: string
  /** SIGTERM → SIGKILL wait when the scope closes on a live run. Default 3 s. */
  readonly killGrace?: Duration.DurationInput
  /** Interpreter for the runner scripts. Default `bash` (from PATH). */
  readonly bash?: string
  /** Tags this allocator's pipelines so a restart can find the ones a crash left running (the data directory). */
  readonly instance?: string
}

export const plainOptionsFromConfig = (
  config: StaticConfig,
  overrides: Partial<PlainExecutorOptions> = {}
): PlainExecutorOptions => ({
  patientBaseDir: config.paths.patientBaseDir,
  userDataDir: config.paths.userDataDir,
  minicondaBase: config.paths.minicondaBase,
  instance: path.resolve(config.dataDir),
  ...overrides
})

export const makePlainExecutor = (options: PlainExecutorOptions): ProcessPortShape => {
  const killGrace = options.killGrace === undefined ? defaultKillGrace : Duration.decode(options.killGrace)
  const patientBaseDir = path.resolve(options.patientBaseDir)
  const userDataDir = path.resolve(options.userDataDir)
  return {
    start: (spec) =>
      Effect.gen(function* () {
        yield* requireSafePatient(spec)
        yield* requireScript(spec.script)
        const env = pipelineEnv(
          spec,
          {
            LOMI_BASE_DIR: patientBaseDir,
            LOMI_USER_DIR: userDataDir,
            ...(options.instance === undefined ? {} : { [INSTANCE_VAR]: options.instance })
          },
          options.minicondaBase
        )
        const group = yield* spawnGroup({
          command: options.bash ?? "bash",
          args: [spec.script, spec.docId, spec.patientId, spec.service],
          env,
          logFile: spec.logFile,
          killGrace
        })
        yield* Effect.log("pipeline started (plain)").pipe(Effect.annotateLogs({ pid: group.pgid }))
        return { pid: group.pid, exit: group.exit }
      }).pipe(Effect.annotateLogs(runAnnotations(spec)), Effect.withSpan("ProcessPort.plain.start")),
    // Nothing is staged outside the real trees; what a crash can leave is a running pipeline.
    sweepStale: options.instance === undefined ? Effect.succeed(0) : killOrphans(options.instance)
  }
}

export const makePlainLayer = (options: PlainExecutorOptions): Layer.Layer<ProcessPort> =>
  Layer.succeed(ProcessPort, makePlainExecutor(options))

/** The plain executor configured from the static config. */
export const PlainProcessLive = (
  config: StaticConfig,
  overrides: Partial<PlainExecutorOptions> = {}
): Layer.Layer<ProcessPort> => makePlainLayer(plainOptionsFromConfig(config, overrides))
