/**
 * The launcher a compute node uses for one attempt: the same bubblewrap
 * sandbox as the local execution host when SANDBOX_ENABLED was 1 at
 * submission, otherwise the plain run on the real trees.
 */
import { Effect } from "effect"
import type { AttemptFile } from "../../../schemas/slurm.ts"
import { isSafeSegment } from "../../../schemas/report.ts"
import { SpawnError } from "../../ports/executor.ts"
import type { Launcher } from "../launch.ts"
import { makeSandboxLauncher } from "../sandbox/launcher.ts"

/**
 * Plain: `bash <script> <docId> <patientId> <service>` on the real trees; the
 * exit passes through unchanged. Environment as the local plain executor
 * gives it: the node's, the service's, then the variables the allocator owns.
 */
const plainLauncher = (attempt: AttemptFile): Launcher => ({
  prepare: (spec) =>
    isSafeSegment(spec.patientId)
      ? Effect.succeed({
          command: "bash",
          args: [spec.script, spec.docId, spec.patientId, spec.service],
          env: {
            ...(Object.fromEntries(
              Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined)
            ) as Record<string, string>),
            ...spec.env,
            ...(attempt.paths.minicondaBase === "" ? {} : { LOMI_MINICONDA_BASE: attempt.paths.minicondaBase }),
            PYTHONDONTWRITEBYTECODE: "1",
            LOMI_BASE_DIR: attempt.paths.patientBaseDir,
            LOMI_USER_DIR: attempt.paths.userDataDir
          }
        })
      : Effect.fail(new SpawnError({ message: `patient id is not a safe path segment: ${JSON.stringify(spec.patientId)}` })),
  finish: (_spec, raw) => Effect.succeed({ code: raw.code, signal: raw.signal }),
  release: () => Effect.void,
  recover: () => Effect.succeed(0)
})

export const launcherFor = (attempt: AttemptFile): Launcher =>
  attempt.sandboxEnabled
    ? makeSandboxLauncher({
        patientBaseDir: attempt.paths.patientBaseDir,
        userDataDir: attempt.paths.userDataDir,
        minicondaBase: attempt.paths.minicondaBase,
        pipelinesRoot: attempt.paths.pipelinesRoot,
        scratchRoot: attempt.sandbox.scratchRoot,
        bwrapPath: attempt.sandbox.bwrapPath,
        cacheDir: attempt.sandbox.cacheDir,
        repoWriteWhitelist: attempt.sandbox.repoWriteWhitelist,
        hidden: attempt.hidden
      })
    : plainLauncher(attempt)
