/**
 * A stand-in allocator for the SIGKILL test: starts one attempt through the
 * Slurm executor, prints `job <id>`, then stays up following it until killed.
 * Usage: allocator-child.ts <spec json> <executor options json>
 */
import { Effect } from "effect"
import type { PipelineSpec } from "../../kernel/ports/executor.ts"
import { makeSlurmExecutor, type SlurmExecutorOptions } from "../../kernel/process/slurm/executor.ts"

const spec = JSON.parse(process.argv[2] ?? "{}") as PipelineSpec
const options = JSON.parse(process.argv[3] ?? "{}") as SlurmExecutorOptions

const program = Effect.scoped(
  Effect.gen(function* () {
    const executor = yield* makeSlurmExecutor(options)
    const started = yield* executor.start(spec)
    process.stdout.write(`job ${started._tag === "Running" ? started.externalId : "none"}\n`)
    yield* executor.awaitExit(spec.runId)
  })
)

Effect.runPromise(program).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`allocator-child: ${String(error)}\n`)
    process.exit(1)
  }
)
