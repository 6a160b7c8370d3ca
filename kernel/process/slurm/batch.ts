/**
 * What one attempt looks like to Slurm: the `sbatch` arguments and the batch
 * script. The script only hands over to the attempt runner
 * (`run-attempt.ts`), which prepares, runs and finishes the attempt with the
 * same launcher (sandbox or plain) the local execution host uses, and records
 * the exit on the shared filesystem.
 *
 * `--no-requeue`: a job whose node fails must end as NODE_FAIL, never be run a
 * second time behind the allocator's back. `--open-mode=append`: the log of
 * an attempt is one file, whatever writes to it.
 */
import type { SlurmServiceResources } from "../../../schemas/config.ts"
import type { PipelineSpec } from "../../ports/executor.ts"

export interface SubmitSettings {
  readonly partition: string
  readonly account?: string | undefined
  readonly resources: SlurmServiceResources
  readonly sbatchOptions: ReadonlyArray<string>
}

/** `lomi-<runId>-<docId>`: the run id makes it findable by name after a crash mid-submit. */
export const jobName = (spec: Pick<PipelineSpec, "runId" | "docId">): string => `lomi-${spec.runId}-${spec.docId}`

export const sbatchArgs = (spec: PipelineSpec, settings: SubmitSettings, script: string, workDir: string): ReadonlyArray<string> => [
  "--parsable",
  "--no-requeue",
  `--job-name=${jobName(spec)}`,
  `--output=${spec.logFile}`,
  "--open-mode=append",
  `--chdir=${workDir}`,
  `--partition=${settings.partition}`,
  ...(settings.account === undefined ? [] : [`--account=${settings.account}`]),
  "--nodes=1",
  "--ntasks=1",
  `--cpus-per-task=${settings.resources.cpus}`,
  `--mem=${settings.resources.memoryMiB}M`,
  `--time=${settings.resources.timeLimitMinutes}`,
  ...settings.sbatchOptions,
  script
]

/** Single-quoted for bash: safe for any text. */
export const shellQuote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`

export const batchScript = (spec: PipelineSpec, runner: ReadonlyArray<string>, runDir: string): string =>
  [
    "#!/bin/bash",
    `# lomi-allocator: run ${spec.runId}, document ${spec.docId}, ${spec.service} attempt ${spec.attempt}`,
    `exec ${[...runner, runDir].map(shellQuote).join(" ")}`,
    ""
  ].join("\n")

/** `--parsable` prints `<jobid>` or `<jobid>;<cluster>`. */
export const parseSubmitted = (stdout: string): string | undefined => {
  const id = stdout.trim().split("\n").pop()?.split(";")[0]?.trim()
  return id !== undefined && /^\d+(_\d+)?$/.test(id) ? id : undefined
}
