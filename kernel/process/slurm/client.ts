/**
 * The Slurm client commands (sbatch, squeue, scontrol, scancel, sinfo), each
 * call bounded by `commandTimeoutMs`: when the controller is down they retry
 * for minutes. A call that times out, cannot reach the controller or cannot be
 * started is `ExecutorUnavailable` (nothing was decided); any other non-zero
 * exit is returned to the caller, who knows what it means for that command.
 */
import { spawn } from "node:child_process"
import { join } from "node:path"
import { Duration, Effect } from "effect"
import { ExecutorUnavailable } from "../../ports/executor.ts"

export type SlurmCommand = "sbatch" | "squeue" | "scontrol" | "scancel" | "sinfo"

export interface CommandResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface SlurmClient {
  readonly run: (command: SlurmCommand, args: ReadonlyArray<string>) => Effect.Effect<CommandResult, ExecutorUnavailable>
}

export interface SlurmClientOptions {
  /** Folder of the client commands; PATH when absent. */
  readonly binDir?: string | undefined
  readonly commandTimeoutMs: number
}

/** What the client commands print when the controller cannot be reached. */
const unreachable =
  /Unable to contact slurm controller|Socket timed out|Connection refused|Zero Bytes were transmitted|Communication connection failure|Unable to establish controller machine|slurm_persist_conn|Transport endpoint/i

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const oneLine = (text: string): string => text.trim().split("\n").filter((l) => l.trim() !== "").slice(-1)[0]?.trim() ?? ""

const exec = (file: string, args: ReadonlyArray<string>): Effect.Effect<CommandResult, ExecutorUnavailable> =>
  Effect.async<CommandResult, ExecutorUnavailable>((resume) => {
    let stdout = ""
    let stderr = ""
    const child = spawn(file, [...args], { stdio: ["ignore", "pipe", "pipe"] })
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.once("error", (error) =>
      resume(Effect.fail(new ExecutorUnavailable({ message: `cannot run ${file}: ${errorText(error)}` })))
    )
    child.once("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    // Interruption (the timeout) kills the client; it holds no state worth a grace.
    return Effect.sync(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    })
  })

export const makeSlurmClient = (options: SlurmClientOptions): SlurmClient => ({
  run: (command, args) => {
    const file = options.binDir === undefined ? command : join(options.binDir, command)
    return exec(file, args).pipe(
      Effect.timeoutFail({
        duration: Duration.millis(options.commandTimeoutMs),
        onTimeout: () =>
          new ExecutorUnavailable({
            message: `${command} did not answer within ${options.commandTimeoutMs} ms (Slurm controller down or overloaded?)`
          })
      }),
      Effect.flatMap((result) =>
        result.code !== 0 && unreachable.test(result.stderr)
          ? Effect.fail(new ExecutorUnavailable({ message: `${command}: ${oneLine(result.stderr)}` }))
          : Effect.succeed(result)
      ),
      Effect.withSpan(`Slurm.${command}`)
    )
  }
})

/** The one-line reason of a failed command, for error messages. */
export const failureLine = (command: SlurmCommand, result: CommandResult): string =>
  `${command} exited ${result.code ?? "by signal"}: ${oneLine(result.stderr) || oneLine(result.stdout) || "no output"}`
