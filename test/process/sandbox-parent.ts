/**
 * A small parent for the "sandbox dies with its parent" test: starts one
 * sandboxed pipeline, prints `STARTED <bwrap pid>`, and waits forever. The
 * test SIGKILLs this process and checks that the bwrap tree went with it.
 *
 *   node --import tsx test/process/sandbox-parent.ts '<{"options": …, "spec": …}>'
 */
import { Effect, Logger, LogLevel } from "effect"
import type { PipelineSpec } from "../../kernel/ports/process.ts"
import { makeSandboxExecutor, type SandboxExecutorOptions } from "../../kernel/process/sandbox.ts"

interface Input {
  readonly options: SandboxExecutorOptions
  readonly spec: PipelineSpec
}

const input = JSON.parse(process.argv[2] ?? "{}") as Input
const port = makeSandboxExecutor(input.options)

Effect.runFork(
  Effect.scoped(
    Effect.gen(function* () {
      const running = yield* port.start(input.spec)
      process.stdout.write(`STARTED ${running.pid ?? -1}\n`)
      return yield* Effect.never
    })
  ).pipe(
    Effect.tapErrorCause((cause) => Effect.sync(() => process.stdout.write(`FAILED ${String(cause)}\n`))),
    Logger.withMinimumLogLevel(LogLevel.Error)
  )
)
