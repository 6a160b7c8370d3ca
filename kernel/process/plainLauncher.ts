/**
 * The plain Launcher: the legacy direct-to-disk run, `bash <script> <docId>
 * <patientId> <service>` on the real patient trees, tagged with the instance
 * variable so a restarted host can find what a crash left running. Nothing is
 * staged, so finish only passes the exit through (a time limit becomes an
 * error message) and recover has nothing to remove.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { SpawnError, type PipelineExit, type PipelineSpec } from "../ports/executor.ts"
import { isSafeSegment } from "../../schemas/report.ts"
import type { Launch, Launcher, RawExit } from "./launch.ts"
import { INSTANCE_VAR } from "./orphans.ts"

export interface PlainLauncherOptions {
  readonly patientBaseDir: string
  readonly userDataDir: string
  /** Exported as LOMI_MINICONDA_BASE when not empty. */
  readonly minicondaBase: string
  /** Interpreter for the runner scripts. Default `bash` (from PATH). */
  readonly bash?: string | undefined
  /** Tags this host's pipelines (LOMI_ALLOCATOR_INSTANCE); usually the resolved data dir. */
  readonly instance?: string | undefined
  /** Wall-clock limit per service, in seconds (the monitor enforces it). */
  readonly timeLimitSeconds?: Readonly<Record<string, number | undefined>> | undefined
}

export const makePlainLauncher = (options: PlainLauncherOptions): Launcher => {
  const patientBaseDir = path.resolve(options.patientBaseDir)
  const userDataDir = path.resolve(options.userDataDir)
  // The host's own environment, read once: process.env is a getter per variable, and copying it on every Start
  // cost a few hundred small strings per job; the host never changes its environment.
  const hostEnv: Readonly<Record<string, string>> = Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined)
  )
  const prepare = (spec: PipelineSpec): Effect.Effect<Launch, SpawnError> =>
    Effect.gen(function* () {
      if (!isSafeSegment(spec.patientId)) {
        return yield* Effect.fail(new SpawnError({ message: `patient id is not a safe path segment: ${JSON.stringify(spec.patientId)}` }))
      }
      if (!(fs.statSync(spec.script, { throwIfNoEntry: false })?.isFile() ?? false)) {
        return yield* Effect.fail(new SpawnError({ message: `pipeline script not found: ${spec.script}` }))
      }
      const env: Record<string, string> = {
        ...hostEnv,
        ...spec.env,
        ...(options.minicondaBase === "" ? {} : { LOMI_MINICONDA_BASE: options.minicondaBase }),
        PYTHONDONTWRITEBYTECODE: "1",
        LOMI_BASE_DIR: patientBaseDir,
        LOMI_USER_DIR: userDataDir,
        ...(options.instance === undefined ? {} : { [INSTANCE_VAR]: options.instance })
      }
      const seconds = options.timeLimitSeconds?.[spec.service]
      return {
        command: options.bash ?? "bash",
        args: [spec.script, spec.docId, spec.patientId, spec.service],
        env,
        ...(seconds === undefined ? {} : { timeLimitMs: seconds * 1000 })
      }
    })
  const finish = (spec: PipelineSpec, raw: RawExit): Effect.Effect<PipelineExit> => {
    const seconds = options.timeLimitSeconds?.[spec.service]
    return Effect.succeed({
      code: raw.code,
      signal: raw.signal,
      ...(raw.timedOut ? { errorMessage: `time limit${seconds === undefined ? "" : ` of ${seconds} s`} exceeded: the run was killed` } : {})
    })
  }
  // Nothing is staged for a plain run, so nothing is left to release or recover.
  return { prepare, finish, release: () => Effect.void, recover: () => Effect.succeed(0) }
}
