/**
 * Chooses the executor behind the process port at start-up.
 *
 * SANDBOX_ENABLED=1 needs a working bubblewrap: the binary must exist and be
 * able to build a sandbox on this host (user namespaces may be disabled). If
 * not, start-up fails with a message that says how to fix it, rather than
 * silently running pipelines unisolated. SANDBOX_ENABLED=0 is the legacy
 * direct-to-disk path, safe only with one worker (see `effectiveMaxWorkers` in schemas/tunables.ts).
 */
import { spawn } from "node:child_process"
import { constants as fsConstants, promises as fs } from "node:fs"
import * as path from "node:path"
import { Data, Duration, Effect, Layer } from "effect"
import { ProcessPort, type ProcessPortShape } from "../ports/process.ts"
import type { StaticConfig } from "../../schemas/config.ts"
import { makePlainExecutor, plainOptionsFromConfig, type PlainExecutorOptions } from "./plain.ts"
import { makeSandboxExecutor, sandboxOptionsFromConfig, type SandboxExecutorOptions } from "./sandbox.ts"

export class SandboxUnavailable extends Data.TaggedError("SandboxUnavailable")<{ readonly message: string }> {}

const howToFix =
  "Install it (Debian/Ubuntu: `apt-get install bubblewrap`; RHEL/Alibaba Cloud Linux: `yum install bubblewrap`) " +
  "or set SANDBOX_ENABLED=0 (or LOMI_SANDBOX_ENABLED=0 as the start-up default) to run pipelines unsandboxed " +
  "with MAX_WORKERS forced to 1."

const isExecutable = (file: string): Promise<boolean> =>
  fs.access(file, fsConstants.X_OK).then(
    () => fs.stat(file).then((s) => s.isFile()),
    () => false
  )

/** Resolves `bwrapPath` (absolute, relative or a bare name searched in PATH) to an executable file. */
export const locateBwrap = (bwrapPath: string): Effect.Effect<string, SandboxUnavailable> =>
  Effect.promise(async () => {
    if (bwrapPath.includes("/")) {
      const file = path.resolve(bwrapPath)
      return (await isExecutable(file)) ? file : undefined
    }
    for (const dir of (process.env["PATH"] ?? "").split(path.delimiter)) {
      if (dir === "") continue
      const file = path.join(dir, bwrapPath)
      if (await isExecutable(file)) return file
    }
    return undefined
  }).pipe(
    Effect.flatMap((found) =>
      found === undefined
        ? Effect.fail(
            new SandboxUnavailable({
              message: `SANDBOX_ENABLED=1 but bubblewrap was not found (sandbox.bwrapPath = "${bwrapPath}"${bwrapPath.includes("/") ? "" : ", searched PATH"}). ${howToFix}`
            })
          )
        : Effect.succeed(found)
    )
  )

/** Runs `bwrap … true` once with the same kind of mounts a run uses. */
export const probeBwrap = (bwrap: string): Effect.Effect<void, SandboxUnavailable> =>
  Effect.async<void, SandboxUnavailable>((resume) => {
    const args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--unshare-pid", "--die-with-parent", "--", "true"]
    const child = spawn(bwrap, args, { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr?.setEncoding("utf8")
    child.stderr?.on("data", (chunk: string) => {
      stderr += chunk
    })
    const fail = (why: string) =>
      resume(
        Effect.fail(
          new SandboxUnavailable({
            message: `SANDBOX_ENABLED=1 but ${bwrap} cannot create a sandbox on this host: ${why}. Check that unprivileged user namespaces are enabled (sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0), or set SANDBOX_ENABLED=0 to run unsandboxed with MAX_WORKERS forced to 1.`
          })
        )
      )
    child.on("error", (error) => fail(error.message))
    child.on("close", (code, signal) => {
      if (code === 0) resume(Effect.void)
      else fail(stderr.trim() || `exit ${code ?? signal ?? "?"}`)
    })
    return Effect.sync(() => {
      child.kill("SIGKILL")
    })
  }).pipe(
    Effect.timeoutFail({
      duration: Duration.seconds(15),
      onTimeout: () => new SandboxUnavailable({ message: `SANDBOX_ENABLED=1 but ${bwrap} did not finish a test run within 15 s` })
    })
  )

/** `locateBwrap` then `probeBwrap`; returns the resolved path. */
export const checkBwrap = (bwrapPath: string): Effect.Effect<string, SandboxUnavailable> =>
  Effect.tap(locateBwrap(bwrapPath), probeBwrap)

export interface ExecutorOverrides {
  readonly plain?: Partial<PlainExecutorOptions>
  readonly sandbox?: Partial<SandboxExecutorOptions>
}

/** The executor for this start-up: bubblewrap when `sandboxEnabled` (after checking it works), plain otherwise. */
export const selectExecutor = (
  config: StaticConfig,
  sandboxEnabled: number | boolean,
  overrides: ExecutorOverrides = {}
): Effect.Effect<ProcessPortShape, SandboxUnavailable> =>
  sandboxEnabled === true || sandboxEnabled === 1
    ? Effect.gen(function* () {
        const options = sandboxOptionsFromConfig(config, overrides.sandbox)
        const bwrap = yield* checkBwrap(options.bwrapPath)
        yield* Effect.log(`pipelines run sandboxed (${bwrap}); scratch in ${options.scratchRoot}`)
        return makeSandboxExecutor({ ...options, bwrapPath: bwrap })
      })
    : Effect.gen(function* () {
        yield* Effect.logWarning(
          "SANDBOX_ENABLED=0: pipelines run directly on the real patient trees; MAX_WORKERS is forced to 1"
        )
        return makePlainExecutor(plainOptionsFromConfig(config, overrides.plain))
      })

/**
 * The process port for production: `ProcessPortLive(config, tunables.SANDBOX_ENABLED)`.
 * Fails to build with `SandboxUnavailable` when the sandbox is on but bwrap is unusable.
 */
export const ProcessPortLive = (
  config: StaticConfig,
  sandboxEnabled: number | boolean,
  overrides: ExecutorOverrides = {}
): Layer.Layer<ProcessPort, SandboxUnavailable> =>
  Layer.effect(ProcessPort, selectExecutor(config, sandboxEnabled, overrides))
