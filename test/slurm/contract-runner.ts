/**
 * The attempt runner as the contract suite needs it: the real runner and
 * launcher, plus an executor-level verdict on request (LOMI_TEST_ERROR_MESSAGE
 * in the spec's env stands for a refused sandbox commit), so the suite can
 * check that a verdict made on the compute node reaches the kernel.
 */
import { Effect } from "effect"
import type { AttemptFile } from "../../schemas/slurm.ts"
import { runAttempt } from "../../kernel/process/slurm/attempt-runner.ts"
import { launcherFor } from "../../kernel/process/slurm/launchers.ts"
import type { Launcher } from "../../kernel/process/launch.ts"

const withVerdict = (attempt: AttemptFile): Launcher => {
  const launcher = launcherFor(attempt)
  return {
    ...launcher,
    finish: (spec, raw) =>
      Effect.map(launcher.finish(spec, raw), (exit) => {
        const message = spec.env["LOMI_TEST_ERROR_MESSAGE"]
        return message === undefined ? exit : { ...exit, errorMessage: message }
      })
  }
}

Effect.runPromise(runAttempt(process.argv[2] ?? "", withVerdict)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`contract-runner: ${String(error)}\n`)
    process.exit(1)
  }
)
