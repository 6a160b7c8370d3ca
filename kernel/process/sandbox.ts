/**
 * The bubblewrap executor behind the legacy `ProcessPort`: a thin wrapper
 * over the sandbox Launcher (`sandbox/launcher.ts`) and `spawnGroup`, kept
 * until the execution host replaces the port.
 *
 *   prepare ─▶ spawn the launch chain ─▶ exit (or time limit, or scope closed)
 *           ─▶ finish (commit on exit 0, discard otherwise) ─▶ run dir removed
 *
 * The port has no error message in its exit: a run whose changes were
 * refused, or that hit a limit, reports exit code 1 when it had exited 0 (the
 * reason is in its log), so it is retried rather than recorded as a success.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Deferred, Duration, Effect, Layer } from "effect"
import { ProcessPort, SpawnError, type PipelineExit, type PipelineSpec, type ProcessPortShape } from "../ports/process.ts"
import type { StaticConfig } from "../../schemas/config.ts"
import { defaultKillGrace, runAnnotations } from "./common.ts"
import { endGroup, spawnGroup } from "./group.ts"
import type { RawExit } from "./launch.ts"
import { removeTree } from "./scratch.ts"
import { makeSandboxLauncher, type SandboxLauncherOptions } from "./sandbox/launcher.ts"
import { runLayout } from "./sandbox/layout.ts"
import { sandboxLauncherOptionsFromConfig } from "./sandbox/fromConfig.ts"

export type { SandboxLauncherOptions } from "./sandbox/launcher.ts"
export { makeSandboxLauncher } from "./sandbox/launcher.ts"
export { sandboxLauncherOptionsFromConfig } from "./sandbox/fromConfig.ts"

export interface SandboxExecutorOptions extends SandboxLauncherOptions {
  /** SIGTERM → SIGKILL wait when the scope closes on a live run. Default 3 s. */
  readonly killGrace?: Duration.DurationInput
}

export const sandboxOptionsFromConfig = (
  config: StaticConfig,
  overrides: Partial<SandboxExecutorOptions> = {}
): SandboxExecutorOptions => ({ ...sandboxLauncherOptionsFromConfig(config, overrides), ...(overrides.killGrace === undefined ? {} : { killGrace: overrides.killGrace }) })

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const isExecutable = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

export const makeSandboxExecutor = (options: SandboxExecutorOptions): ProcessPortShape => {
  const killGrace = options.killGrace === undefined ? defaultKillGrace : Duration.decode(options.killGrace)
  const launcher = makeSandboxLauncher(options)
  const scratchRoot = path.resolve(options.scratchRoot)
  /** Runs in progress in this process: never swept. */
  const active = new Set<number>()

  const finishAndClean = (spec: PipelineSpec, raw: RawExit): Effect.Effect<PipelineExit> =>
    Effect.gen(function* () {
      const exit = yield* launcher.finish(spec, raw)
      const dir = runLayout(scratchRoot, spec.runId).dir
      yield* Effect.promise(() => removeTree(dir).catch(() => undefined))
      active.delete(spec.runId)
      if (exit.errorMessage !== undefined) yield* Effect.logWarning(exit.errorMessage)
      return exit.errorMessage !== undefined && exit.code === 0 ? { code: 1, signal: null } : { code: exit.code, signal: exit.signal }
    })

  const start = (spec: PipelineSpec) =>
    Effect.gen(function* () {
      if (active.has(spec.runId)) return yield* Effect.fail(new SpawnError({ message: `run ${spec.runId} already has a live sandbox` }))
      if (options.bwrapPath.includes("/") && !isExecutable(options.bwrapPath)) {
        return yield* Effect.fail(new SpawnError({ message: `cannot spawn ${options.bwrapPath}: ENOENT (not an executable file)` }))
      }
      const launch = yield* launcher.prepare(spec).pipe(Effect.mapError((e) => new SpawnError({ message: e.message })))
      active.add(spec.runId)
      const done = yield* Deferred.make<PipelineExit>()
      // Registered before the group, so it runs after the group's own finalizer has ended the process tree.
      yield* Effect.addFinalizer(() =>
        Effect.flatMap(Deferred.isDone(done), (finished) =>
          finished
            ? Effect.void
            : Effect.flatMap(finishAndClean(spec, { code: null, signal: "SIGKILL", timedOut: false }), (exit) =>
                Deferred.succeed(done, exit)
              )
        )
      )
      const group = yield* spawnGroup({
        command: launch.command,
        args: launch.args,
        env: launch.env,
        logFile: spec.logFile,
        killGrace,
        ...(launch.cwd === undefined ? {} : { cwd: launch.cwd }),
        treeDiesWithLeader: true
      }).pipe(
        Effect.tapError(() => finishAndClean(spec, { code: 127, signal: null, timedOut: false }).pipe(Effect.flatMap((e) => Deferred.succeed(done, e))))
      )
      yield* Effect.log("pipeline started (sandbox)").pipe(Effect.annotateLogs({ pid: group.pgid }))
      const limit = launch.timeLimitMs
      const raw: Effect.Effect<RawExit> = (limit === undefined ? group.exit.pipe(Effect.map((e) => ({ ...e, timedOut: false }))) : group.exit.pipe(
        Effect.map((e): RawExit => ({ ...e, timedOut: false })),
        Effect.timeout(Duration.millis(limit)),
        Effect.catchAll(() =>
          Effect.zipRight(
            endGroup(group.pgid, killGrace, { spareLeaderFromTerm: true }),
            Effect.map(group.exit, (e): RawExit => ({ ...e, timedOut: true }))
          )
        )
      ))
      const exit: Effect.Effect<PipelineExit> = Effect.flatMap(Deferred.isDone(done), (finished) =>
        finished
          ? Deferred.await(done)
          : raw.pipe(
              Effect.flatMap((r) => finishAndClean(spec, r)),
              Effect.tap((e) => Deferred.succeed(done, e)),
              Effect.uninterruptible
            )
      )
      return { pid: group.pid, exit }
    }).pipe(
      Effect.catchAllDefect((defect) => Effect.fail(new SpawnError({ message: `sandbox failed: ${errorText(defect)}` }))),
      Effect.annotateLogs(runAnnotations(spec)),
      Effect.withSpan("ProcessPort.sandbox.start")
    )

  const sweepStale: Effect.Effect<number> = launcher.recover(active)

  return { start, sweepStale }
}

export const makeSandboxLayer = (options: SandboxExecutorOptions): Layer.Layer<ProcessPort> =>
  Layer.succeed(ProcessPort, makeSandboxExecutor(options))

/** The bubblewrap executor configured from the static config (no bwrap check: see select.ts). */
export const SandboxProcessLive = (
  config: StaticConfig,
  overrides: Partial<SandboxExecutorOptions> = {}
): Layer.Layer<ProcessPort> => makeSandboxLayer(sandboxOptionsFromConfig(config, overrides))
