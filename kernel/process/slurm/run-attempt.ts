/**
 * The batch script's only line, on the compute node: run-attempt <run folder>.
 * See attempt-runner.ts for what it does.
 */
import { Effect } from "effect"
import { runAttempt } from "./attempt-runner.ts"
import { launcherFor } from "./launchers.ts"

const runFolder = process.argv[2]
if (runFolder === undefined || runFolder === "") {
  process.stderr.write("usage: run-attempt.ts <run folder>\n")
  process.exit(2)
} else {
  Effect.runPromise(runAttempt(runFolder, launcherFor)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`run-attempt: ${error instanceof Error ? error.message : String(error)}\n`)
      process.exit(1)
    }
  )
}
