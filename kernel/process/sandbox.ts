/**
 * The bubblewrap executor: every run gets a private filesystem view.
 *
 *   <scratchRoot>/run-<runId>/
 *     base/<patientId>/        staged from <patientBaseDir>/<patientId>/   (LOMI_BASE_DIR=…/base)
 *     user-data/<patientId>/   staged from <userDataDir>/<patientId>/      (LOMI_USER_DIR=…/user-data)
 *     repo-writes/<repo>/<p>   private copies of whitelisted repo paths, bound over the real ones
 *
 * Inside bwrap the root filesystem is read-only, the run dir is writable,
 * /tmp is a fresh tmpfs, ~/.cache is the real cache dir (read-write), and the
 * attempt's log file is the real one. Capabilities are dropped when the
 * daemon runs as root, so a pipeline cannot remount its way out.
 *
 * Lifecycle of one run (a scope):
 *   stage scratch ─▶ spawn bwrap ─▶ exit ─▶ copy back (once) ─▶ remove scratch
 * A kill closes the scope: the process group ends first (SIGTERM, grace,
 * SIGKILL), then copy-back and removal run as for a normal exit. When
 * copy-back fails the scratch is kept for inspection (and removed by the next
 * start-up sweep), and a run that exited 0 reports exit code 1 so it is
 * retried instead of being recorded as a success without its outputs.
 */
import { promises as fs } from "node:fs"
import * as path from "node:path"
import { Duration, Effect, Layer } from "effect"
import { ProcessPort, SpawnError, type PipelineExit, type PipelineSpec, type ProcessPortShape } from "../ports/process.ts"
import type { StaticConfig } from "../../schemas/config.ts"
import { isSafeSegment } from "../../schemas/report.ts"
import { defaultKillGrace, pipelineEnv, requireSafePatient, requireScript, runAnnotations } from "./common.ts"
import { spawnGroup } from "./group.ts"
import {
  copyBackTree,
  copyEverything,
  copyFilePreserving,
  removeTree,
  runDirPattern,
  stageTree,
  type CopyBackResult,
  type Manifest,
  type StageStats
} from "./scratch.ts"

export interface SandboxExecutorOptions {
  readonly patientBaseDir: string
  readonly userDataDir: string
  /** Exported as LOMI_MINICONDA_BASE when not empty. */
  readonly minicondaBase: string
  readonly pipelinesRoot: string
  /** Parent of the per-run `run-<runId>` directories. Same filesystem as the patient trees, or staging copies. */
  readonly scratchRoot: string
  readonly bwrapPath: string
  /** Real cache directory bound read-write at `$HOME/.cache`. Default `$HOME/.cache`. */
  readonly cacheDir?: string | undefined
  /** [repo, path relative to the repo] pairs under `pipelinesRoot` that each run gets a private writable copy of. */
  readonly repoWriteWhitelist: ReadonlyArray<readonly [string, string]>
  /** SIGTERM → SIGKILL wait when the scope closes on a live run. Default 3 s. */
  readonly killGrace?: Duration.DurationInput
  /** Staged files smaller than this are copied rather than hard-linked. Default 1 MiB. */
  readonly copyBelowBytes?: number
  /** At most this many bytes are copied per staged tree. Default 32 MiB. */
  readonly copyBudgetBytes?: number
  /** At most this many files are copied per staged tree. Default 1000. */
  readonly copyMaxFiles?: number
  /** Home directory of the pipelines (for ~/.cache; exported as HOME when given). Default $HOME of the daemon. */
  readonly home?: string | undefined
}

export const sandboxOptionsFromConfig = (
  config: StaticConfig,
  overrides: Partial<SandboxExecutorOptions> = {}
): SandboxExecutorOptions => ({
  patientBaseDir: config.paths.patientBaseDir,
  userDataDir: config.paths.userDataDir,
  minicondaBase: config.paths.minicondaBase,
  pipelinesRoot: config.paths.pipelinesRoot,
  scratchRoot: config.sandbox.scratchRoot,
  bwrapPath: config.sandbox.bwrapPath,
  cacheDir: config.sandbox.cacheDir,
  repoWriteWhitelist: config.sandbox.repoWriteWhitelist,
  ...overrides
})

export interface Bind {
  readonly source: string
  readonly target: string
}

export interface BwrapPlan {
  readonly runDir: string
  /** Bound read-only so a runner kept under the host's /tmp stays reachable. */
  readonly scriptDir: string
  readonly logFile: string
  readonly cache: Bind | undefined
  readonly repoBinds: ReadonlyArray<Bind>
  readonly dropCapabilities: boolean
  readonly command: ReadonlyArray<string>
}

/**
 * The bwrap command line. Order matters: later mounts go on top of earlier
 * ones, so everything that must be writable comes after `--tmpfs /tmp` (it
 * may live under /tmp) and the whitelist binds come last.
 */
export const bwrapArgs = (plan: BwrapPlan): Array<string> => [
  "--ro-bind", "/", "/",
  "--dev", "/dev",
  "--proc", "/proc",
  "--tmpfs", "/tmp",
  "--unshare-pid",
  "--die-with-parent",
  ...(plan.dropCapabilities ? ["--cap-drop", "ALL"] : []),
  "--ro-bind", plan.scriptDir, plan.scriptDir,
  "--bind", plan.runDir, plan.runDir,
  ...(plan.cache === undefined ? [] : ["--bind", plan.cache.source, plan.cache.target]),
  "--bind", plan.logFile, plan.logFile,
  ...plan.repoBinds.flatMap((b) => ["--bind", b.source, b.target]),
  "--",
  ...plan.command
]

interface Staged {
  readonly runDir: string
  readonly trees: ReadonlyArray<{ readonly scratch: string; readonly real: string; readonly manifest: Manifest }>
  readonly stats: ReadonlyArray<StageStats>
  readonly repoBinds: ReadonlyArray<Bind>
  readonly warnings: ReadonlyArray<string>
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const mib = 1024 * 1024

export const makeSandboxExecutor = (options: SandboxExecutorOptions): ProcessPortShape => {
  const killGrace = options.killGrace === undefined ? defaultKillGrace : Duration.decode(options.killGrace)
  const scratchRoot = path.resolve(options.scratchRoot)
  const patientBaseDir = path.resolve(options.patientBaseDir)
  const userDataDir = path.resolve(options.userDataDir)
  const pipelinesRoot = path.resolve(options.pipelinesRoot)
  const home = options.home ?? process.env["HOME"]
  const cacheDir = options.cacheDir ?? (home === undefined ? undefined : path.join(home, ".cache"))
  const limits = {
    copyBelowBytes: options.copyBelowBytes ?? mib,
    copyBudgetBytes: options.copyBudgetBytes ?? 32 * mib,
    copyMaxFiles: options.copyMaxFiles ?? 1000
  }
  /** Run dirs in use by this process: never swept, never staged twice. */
  const active = new Set<string>()

  const stageRepoWrites = async (runDir: string, warnings: Array<string>): Promise<Array<Bind>> => {
    const binds: Array<Bind> = []
    for (const [repo, rel] of options.repoWriteWhitelist) {
      const repoDir = path.join(pipelinesRoot, repo)
      const target = path.resolve(repoDir, rel)
      if (!isSafeSegment(repo) || !target.startsWith(repoDir + path.sep)) {
        warnings.push(`whitelist entry [${repo}, ${rel}] is not a path inside ${pipelinesRoot}/<repo>: ignored`)
        continue
      }
      const source = path.join(runDir, "repo-writes", repo, path.relative(repoDir, target))
      const real = await fs.stat(target, { bigint: true }).catch(() => null)
      if (real === null) {
        warnings.push(`whitelist entry [${repo}, ${rel}]: ${target} does not exist; create it (mkdir or touch) so runs can get a private copy`)
        continue
      }
      if (real.isDirectory()) {
        await stageTree(target, source, copyEverything)
      } else {
        await fs.mkdir(path.dirname(source), { recursive: true })
        await copyFilePreserving(target, source, real)
      }
      binds.push({ source, target })
    }
    return binds
  }

  const stage = (spec: PipelineSpec, runDir: string): Effect.Effect<Staged, SpawnError> =>
    Effect.tryPromise({
      try: async () => {
        // A leftover from a crashed run with the same id must not leak into this one.
        await removeTree(runDir)
        await fs.mkdir(path.join(runDir, "repo-writes"), { recursive: true })
        const base = {
          scratch: path.join(runDir, "base", spec.patientId),
          real: path.join(patientBaseDir, spec.patientId)
        }
        const user = {
          scratch: path.join(runDir, "user-data", spec.patientId),
          real: path.join(userDataDir, spec.patientId)
        }
        const [b, u] = await Promise.all([
          stageTree(base.real, base.scratch, limits),
          stageTree(user.real, user.scratch, limits)
        ])
        const warnings: Array<string> = []
        const repoBinds = await stageRepoWrites(runDir, warnings)
        return {
          runDir,
          // Copy-back covers the whole base/ and user-data/ trees, so outputs a
          // pipeline writes beside the patient's folder come back too.
          trees: [
            { scratch: path.join(runDir, "base"), real: patientBaseDir, manifest: prefixed(b.manifest, spec.patientId) },
            { scratch: path.join(runDir, "user-data"), real: userDataDir, manifest: prefixed(u.manifest, spec.patientId) }
          ],
          stats: [b.stats, u.stats],
          repoBinds,
          warnings
        }
      },
      catch: (error) => new SpawnError({ message: `cannot prepare sandbox scratch ${runDir}: ${errorText(error)}` })
    })

  const copyBack = (staged: Staged): Effect.Effect<boolean> =>
    Effect.promise(() => Promise.all(staged.trees.map((t) => copyBackTree(t.scratch, t.real, t.manifest)))).pipe(
      Effect.flatMap((results) => reportCopyBack(results)),
      // A promise cannot be stopped half-way: never let an interrupted caller race the finalizer's copy-back.
      Effect.uninterruptible,
      Effect.withSpan("ProcessPort.sandbox.copyBack")
    )

  const finish = (staged: Staged, copyBackOnce: Effect.Effect<boolean>): Effect.Effect<void> =>
    Effect.gen(function* () {
      const ok = yield* copyBackOnce
      if (ok) {
        yield* Effect.tryPromise(() => removeTree(staged.runDir)).pipe(
          Effect.catchAll((error) => Effect.logError(`cannot remove scratch ${staged.runDir}: ${errorText(error)}`))
        )
      } else {
        yield* Effect.logError(`scratch kept for inspection after a failed copy-back: ${staged.runDir}`)
      }
      active.delete(staged.runDir)
    })

  const prepareCache = async (): Promise<Bind | undefined> => {
    if (cacheDir === undefined || home === undefined) return undefined
    const target = path.join(home, ".cache")
    await fs.mkdir(cacheDir, { recursive: true })
    // The mount point must exist on the host: the sandbox's root is read-only.
    await fs.mkdir(target, { recursive: true })
    return { source: path.resolve(cacheDir), target }
  }

  const start = (spec: PipelineSpec) =>
    Effect.gen(function* () {
      yield* requireSafePatient(spec)
      yield* requireScript(spec.script)
      const runDir = path.join(scratchRoot, `run-${spec.runId}`)
      if (active.has(runDir)) {
        return yield* Effect.fail(new SpawnError({ message: `run ${spec.runId} already has a live sandbox` }))
      }
      const cache = yield* Effect.tryPromise({
        try: prepareCache,
        catch: (error) => new SpawnError({ message: `cannot prepare cache dir ${String(cacheDir)}: ${errorText(error)}` })
      })
      active.add(runDir)
      const staged = yield* Effect.acquireRelease(
        stage(spec, runDir).pipe(
          Effect.tapError(() => Effect.promise(() => removeTree(runDir).catch(() => undefined))),
          Effect.tapError(() => Effect.sync(() => active.delete(runDir))),
          Effect.flatMap((staged) => Effect.map(Effect.cached(copyBack(staged)), (once) => ({ staged, once })))
        ),
        ({ staged, once }) => finish(staged, once)
      )
      yield* Effect.forEach(staged.staged.warnings, (w) => Effect.logWarning(w), { discard: true })
      const [baseStats, userStats] = staged.staged.stats
      yield* Effect.logDebug("sandbox staged").pipe(
        Effect.annotateLogs({
          linked: (baseStats?.linked ?? 0) + (userStats?.linked ?? 0),
          copied: (baseStats?.copied ?? 0) + (userStats?.copied ?? 0),
          copiedBytes: (baseStats?.copiedBytes ?? 0) + (userStats?.copiedBytes ?? 0),
          linkFallbacks: (baseStats?.linkFallbacks ?? 0) + (userStats?.linkFallbacks ?? 0)
        })
      )
      const logFile = path.resolve(spec.logFile)
      const group = yield* spawnGroup({
        command: options.bwrapPath,
        args: bwrapArgs({
          runDir,
          scriptDir: path.dirname(path.resolve(spec.script)),
          logFile,
          cache,
          repoBinds: staged.staged.repoBinds,
          dropCapabilities: process.getuid?.() === 0,
          command: ["bash", path.resolve(spec.script), spec.docId, spec.patientId, spec.service]
        }),
        env: pipelineEnv(
          spec,
          {
            LOMI_BASE_DIR: path.join(runDir, "base"),
            LOMI_USER_DIR: path.join(runDir, "user-data"),
            TMPDIR: "/tmp",
            ...(options.home === undefined ? {} : { HOME: options.home })
          },
          options.minicondaBase
        ),
        logFile,
        killGrace,
        // --unshare-pid + --die-with-parent: when bwrap goes, the kernel ends everything inside.
        treeDiesWithLeader: true
      })
      yield* Effect.log("pipeline started (sandbox)").pipe(Effect.annotateLogs({ pid: group.pgid, scratch: runDir }))
      const exit: Effect.Effect<PipelineExit> = group.exit.pipe(
        Effect.flatMap((exit) =>
          Effect.map(staged.once, (ok): PipelineExit => (ok || exit.code !== 0 ? exit : { code: 1, signal: null }))
        )
      )
      return { pid: group.pid, exit }
    }).pipe(Effect.annotateLogs(runAnnotations(spec)), Effect.withSpan("ProcessPort.sandbox.start"))

  const sweepStale: Effect.Effect<number> = Effect.promise(async () => {
    const entries = await fs.readdir(scratchRoot).catch(() => [] as Array<string>)
    const stale = entries.filter((name) => runDirPattern.test(name) && !active.has(path.join(scratchRoot, name)))
    let removed = 0
    const failures: Array<string> = []
    for (const name of stale) {
      await removeTree(path.join(scratchRoot, name)).then(
        () => {
          removed++
        },
        (error: unknown) => {
          failures.push(`${name}: ${errorText(error)}`)
        }
      )
    }
    return { removed, failures }
  }).pipe(
    Effect.tap(({ removed, failures }) =>
      Effect.all([
        removed > 0 ? Effect.log(`removed ${removed} stale sandbox scratch dir(s) from ${scratchRoot}`) : Effect.void,
        Effect.forEach(failures, (f) => Effect.logError(`cannot remove stale scratch ${f}`), { discard: true })
      ])
    ),
    Effect.map(({ removed }) => removed)
  )

  return { start, sweepStale }
}

const prefixed = (manifest: Manifest, prefix: string): Manifest => {
  const out: Manifest = new Map()
  for (const [rel, entry] of manifest) out.set(`${prefix}/${rel}`, entry)
  // The patient folder itself was staged too: it is not a new directory.
  out.set(prefix, { ino: 0n, size: 0n, mtimeNs: 0n })
  return out
}

const reportCopyBack = (results: ReadonlyArray<CopyBackResult>): Effect.Effect<boolean> =>
  Effect.gen(function* () {
    const moved = results.reduce((n, r) => n + r.moved, 0)
    const movedBytes = results.reduce((n, r) => n + r.movedBytes, 0)
    const inPlace = results.flatMap((r) => r.inPlace)
    const errors = results.flatMap((r) => r.errors)
    yield* Effect.log("sandbox outputs copied back").pipe(Effect.annotateLogs({ moved, movedBytes }))
    if (inPlace.length > 0) {
      yield* Effect.logWarning(
        `pipeline edited ${inPlace.length} hard-linked input(s) in place; the change reached the real file during the run: ${inPlace.slice(0, 10).join(", ")}`
      )
    }
    if (errors.length > 0) {
      yield* Effect.logError(`sandbox copy-back failed for ${errors.length} entr(y/ies): ${errors.slice(0, 10).join("; ")}`)
    }
    return errors.length === 0
  })

export const makeSandboxLayer = (options: SandboxExecutorOptions): Layer.Layer<ProcessPort> =>
  Layer.succeed(ProcessPort, makeSandboxExecutor(options))

/** The bubblewrap executor configured from the static config (no bwrap check: see select.ts). */
export const SandboxProcessLive = (
  config: StaticConfig,
  overrides: Partial<SandboxExecutorOptions> = {}
): Layer.Layer<ProcessPort> => makeSandboxLayer(sandboxOptionsFromConfig(config, overrides))
