/** Pieces shared by the plain and the sandbox executor. */
import { promises as fs } from "node:fs"
import { Duration, Effect } from "effect"
import { SpawnError, type PipelineSpec } from "../ports/process.ts"
// The dispatcher's rule for ids, checked again here where a path is built.
import { isSafeSegment } from "../../schemas/report.ts"

/** Default wait between SIGTERM and SIGKILL when a run's scope closes. */
export const defaultKillGrace: Duration.Duration = Duration.seconds(3)


export const requireScript = (script: string): Effect.Effect<void, SpawnError> =>
  Effect.promise(() => fs.stat(script).then((s) => s.isFile(), () => false)).pipe(
    Effect.flatMap((isFile) =>
      isFile ? Effect.void : Effect.fail(new SpawnError({ message: `pipeline script not found: ${script}` }))
    )
  )

export const requireSafePatient = (spec: PipelineSpec): Effect.Effect<void, SpawnError> =>
  isSafeSegment(spec.patientId)
    ? Effect.void
    : Effect.fail(new SpawnError({ message: `patient id is not a safe path segment: ${JSON.stringify(spec.patientId)}` }))

/**
 * The child's environment: the daemon's, then the service's own, then the
 * variables the allocator owns (these win, so a service cannot point a
 * sandboxed run at the real trees by accident).
 */
export const pipelineEnv = (
  spec: PipelineSpec,
  owned: Readonly<Record<string, string>>,
  minicondaBase: string
): Record<string, string | undefined> => ({
  ...process.env,
  ...spec.env,
  ...(minicondaBase === "" ? {} : { LOMI_MINICONDA_BASE: minicondaBase }),
  PYTHONDONTWRITEBYTECODE: "1",
  ...owned
})

export const runAnnotations = (spec: PipelineSpec) => ({
  run: spec.runId,
  doc: spec.docId,
  service: spec.service,
  attempt: spec.attempt
})
