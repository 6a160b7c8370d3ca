/**
 * The sandbox Launcher (see ../launch.ts for the contract and ../README.md for
 * the design and measurements).
 *
 *   prepare: run dir, overlay dirs, cgroups, bwrap.args, plan.json
 *   (the monitor runs lomi-enter: cgroups → unshare → overlay mounts → rlimits → exec bwrap)
 *   finish:  exit 0 → list the final tree, check it, commit it (journaled);
 *            anything else → commit nothing, log what the run had changed;
 *            then outcome.json, and the run dir shrinks to plan + outcome
 *   recover: interrupted commits finished or rolled back; run dirs not live removed
 *
 * Commits for one patient are serialised (a semaphore per patient in this
 * process): planning compares with the real folder, which must not move
 * underneath.
 */
import { execFile } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Duration, Effect, Schedule } from "effect"
import type { PipelineExit, PipelineSpec } from "../../ports/executor.ts"
import { SpawnError } from "../../ports/executor.ts"
import { isSafeSegment } from "../../../schemas/report.ts"
import type { Launch, Launcher, RawExit } from "../launch.ts"
import { copyTree, removeTree } from "../scratch.ts"
import { quickRemove } from "./quickRemove.ts"
import { bwrapArgs, enterCommand, listingScript, unmountablePath, type Bind, type ChainPlan } from "./bwrap.ts"
import { computeChanges, describeUpper, dirsToList } from "./changes.ts"
import { recoverJournal, runCommit, writeAtomic, type CommitProbe } from "./commit.ts"
import {
  cgroupsUsable,
  closeRunCgroups,
  createRunCgroups,
  readCgroupVerdict,
  removeRunCgroups,
  resolveLimits,
  runCgroupPaths,
  rlimitBytes,
  type RunCgroups,
  type RunLimits
} from "./limits.ts"
import { runDirPattern, runLayout, type RunLayout, type RunPlan, type TreeName, type TreePlan } from "./layout.ts"

export interface SandboxLauncherOptions {
  readonly patientBaseDir: string
  readonly userDataDir: string
  /** Exported as LOMI_MINICONDA_BASE when not empty (and kept reachable when under /tmp). */
  readonly minicondaBase: string
  readonly pipelinesRoot: string
  /** Parent of the `run-<runId>` dirs. Same filesystem as the patient trees, or commits copy. */
  readonly scratchRoot: string
  readonly bwrapPath: string
  /** Bound read-write at `$HOME/.cache`. Default `$HOME/.cache`. */
  readonly cacheDir?: string | undefined
  /** HOME of the pipelines (exported when given). Default the host's $HOME. */
  readonly home?: string | undefined
  /** [repo, path relative to the repo] pairs under `pipelinesRoot` each run gets a private writable copy of. */
  readonly repoWriteWhitelist: ReadonlyArray<readonly [string, string]>
  /** Host paths a pipeline must not see: the data dir, the config file, the credentials file. */
  readonly hidden?: ReadonlyArray<string> | undefined
  /** Per-service limits; unset fields take `defaultLimits`. */
  readonly limits?: Readonly<Record<string, Partial<RunLimits> | undefined>> | undefined
  /** cgroup v1 mount root; "" never uses cgroups. Default /sys/fs/cgroup. */
  readonly cgroupRoot?: string | undefined
  /** Added to every run's environment after the service's (the plain launcher's instance tag, say). */
  readonly extraEnv?: Readonly<Record<string, string>> | undefined
  /**
   * sh and unshare list a finished run's tree; enter is lomi-enter (enter.c), which starts every run.
   * Default for enter: $LOMI_ENTER, else `.build/lomi-enter` in the nearest directory above this module that has one.
   */
  readonly tools?: { readonly sh?: string; readonly unshare?: string; readonly enter?: string } | undefined
  /**
   * release returns once the run dir is renamed away, and removes it beside the caller. Only for a
   * long-lived caller (the execution host) whose next start's recover removes what it left; a process
   * that exits right after release (the Slurm attempt runner) waits for the removal (the default).
   */
  readonly releaseInBackground?: boolean | undefined
  /**
   * With releaseInBackground: hands a renamed-away run dir to the caller's remover (the execution
   * host's fork server removes it in a process of its own) instead of removing it on this event loop.
   */
  readonly discard?: ((dir: string) => void) | undefined
  /** Called between the steps of a commit (the crash test slows commits down with it). */
  readonly commitProbe?: CommitProbe | undefined
  /**
   * Run dirs made ahead of time, off the event loop (default 0: none). A start takes one with a
   * rename instead of six mkdirs, each of which can wait on the filesystem's journal on a busy
   * machine. Only fresh dirs: a run's dir is never reused.
   */
  readonly poolSize?: number | undefined
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error))
const inside = (parent: string, child: string) => child === parent || child.startsWith(parent + path.sep)
const spawnError = (message: string) => new SpawnError({ message })

const lstatOrNull = (p: string): fs.Stats | null => {
  try {
    return fs.lstatSync(p)
  } catch {
    return null
  }
}

/** A configured root: made absolute, its own symlinks resolved once (e.g. a data disk). */
const realRoot = (p: string): string => {
  const abs = path.resolve(p)
  try {
    return fs.realpathSync(abs)
  } catch {
    return abs
  }
}

const readJson = <A>(file: string): A | undefined => {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as A
  } catch {
    return undefined
  }
}

/** A few lines: synchronous (the async form's thread-pool round trips cost more than the write). */
const appendLog = (logFile: string, lines: ReadonlyArray<string>): Effect.Effect<void> =>
  Effect.sync(() => {
    try {
      fs.appendFileSync(logFile, lines.map((l) => `[sandbox] ${l}\n`).join(""))
    } catch {
      // The log is best effort; the outcome carries the message.
    }
  })

const listCap = 50
/** Released run dirs, renamed before their removal (recover removes any a crash left). */
const trashPrefix = ".released-"
let trashSequence = 0
/** Run dirs made ahead (recover removes any a crash left). */
const poolPrefix = ".pool-"
let poolSequence = 0
/** What a pooled dir holds (names inside a run dir): every tree's dirs; a tree whose P has no folder leaves its work dir unused. */
const pooledChildren: ReadonlyArray<string> = (["base", "user"] as const).flatMap((name) => {
  const t = runLayout("/", 0).tree(name)
  return [t.upper, t.work, t.shell].map((p) => path.basename(p))
})

/** $LOMI_ENTER, else `.build/lomi-enter` in the nearest directory above this module that has one (built by make). */
export const locateEnter = (): string | undefined => {
  const fromEnv = process.env["LOMI_ENTER"]
  if (fromEnv !== undefined && fromEnv !== "") return path.resolve(fromEnv)
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = path.join(dir, ".build", "lomi-enter")
    if (fs.existsSync(candidate)) return candidate
    const parent = path.dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

export const makeSandboxLauncher = (options: SandboxLauncherOptions): Launcher => {
  const scratchRoot = path.resolve(options.scratchRoot)
  const roots: ReadonlyArray<readonly [TreeName, string]> = [
    ["base", realRoot(options.patientBaseDir)],
    ["user", realRoot(options.userDataDir)]
  ]
  const pipelinesRoot = path.resolve(options.pipelinesRoot)
  const home = options.home ?? process.env["HOME"]
  const cacheDir = options.cacheDir ?? (home === undefined ? undefined : path.join(home, ".cache"))
  const cgroupRoot = options.cgroupRoot ?? "/sys/fs/cgroup"
  const cgroupGroup = `lomi-${createHash("sha1").update(scratchRoot).digest("hex").slice(0, 10)}`
  const unprivileged = process.getuid?.() !== 0
  const sh = options.tools?.sh ?? "/bin/sh"
  const unshare = options.tools?.unshare ?? "unshare"
  const enter = options.tools?.enter ?? locateEnter()
  const hidden = [...(options.hidden ?? []).map((p) => path.resolve(p)), scratchRoot]
  const locks = new Map<string, Effect.Semaphore>()
  /**
   * Made (or found) once, not on every run: the patient roots, the scratch root, the cache dir.
   * Each check is a syscall or two, and this VM's ext4 charges ~0.1 ms for a mkdir.
   */
  const made = new Set<string>()
  const makeOnce = (dir: string) => {
    if (made.has(dir)) return
    fs.mkdirSync(dir, { recursive: true })
    made.add(dir)
  }
  /** Whether per-run cgroups can be made here: checked at the first run, again after a run could not make them. */
  let cgroupsOk: boolean | undefined
  /** Hidden paths once found (a directory stays one): only the missing are looked at again per run. */
  const hiddenKind = new Map<string, "dir" | "file">()
  /**
   * Plans of the runs prepared by this process, until release: finish and release read them here
   * instead of from plan.json (which stays the record a restarted host reads).
   */
  const plans = new Map<number, RunPlan>()
  const lockFor = (patientId: string) => {
    const existing = locks.get(patientId)
    if (existing !== undefined) return existing
    const made = Effect.unsafeMakeSemaphore(1)
    locks.set(patientId, made)
    return made
  }
  const tempName = (runId: number) => (kind: "new" | "old", index: number) => `.lomi-${kind}-${runId}-${index}`

  const stageRepoWrites = (layout: RunLayout, warnings: Array<string>): Array<Bind> => {
    const binds: Array<Bind> = []
    for (const [repo, rel] of options.repoWriteWhitelist) {
      const repoDir = path.join(pipelinesRoot, repo)
      const target = path.resolve(repoDir, rel)
      if (!isSafeSegment(repo) || !target.startsWith(repoDir + path.sep)) {
        warnings.push(`whitelist entry [${repo}, ${rel}] is not a path inside ${pipelinesRoot}/<repo>: ignored`)
        continue
      }
      const real = lstatOrNull(target)
      if (real === null || real.isSymbolicLink()) {
        warnings.push(`whitelist entry [${repo}, ${rel}]: ${target} does not exist (or is a symlink); create it (mkdir or touch) so runs get a private copy`)
        continue
      }
      const source = path.join(layout.repoWrites, repo, path.relative(repoDir, target))
      fs.mkdirSync(path.dirname(source), { recursive: true })
      copyTree(target, source)
      binds.push({ source, target })
    }
    return binds
  }

  const limitsFor = (service: string): RunLimits => resolveLimits(options.limits?.[service])

  /** Paths the run must still reach: bound back after the private /tmp (and after the hidden paths when inside one). */
  const reachablePaths = (spec: PipelineSpec): { readonly early: Array<string>; readonly late: Array<string> } => {
    const wanted = [path.dirname(path.resolve(spec.script)), pipelinesRoot, options.minicondaBase]
    for (const value of Object.values(spec.env)) if (path.isAbsolute(value)) wanted.push(value)
    const early: Array<string> = []
    const late: Array<string> = []
    for (const p of wanted) {
      if (p === "" || !path.isAbsolute(p)) continue
      // An ancestor of a hidden path is fine: the hidden paths are mounted over it afterwards.
      if (hidden.includes(p)) continue
      // Only a path under /tmp or a hidden one needs a bind, and only then is it looked up.
      const isLate = hidden.some((h) => inside(h, p))
      if (!isLate && !inside("/tmp", p)) continue
      if (lstatOrNull(p) === null) continue
      if (isLate) late.push(p)
      else early.push(p)
    }
    return { early: [...new Set(early)], late: [...new Set(late)] }
  }

  /**
   * The run dir, made with as few syscalls as the common case needs: one mkdir, and on EEXIST (a
   * Start repeated after a crash) the old dir is checked for a journal and removed first.
   */
  const poolSize = options.poolSize ?? 0
  /** Made, not yet handed out: each entry is taken (removed from here) by exactly one start. */
  const pool: Array<string> = []
  let poolFilling = 0
  /** Tops the pool up beside the caller, through the thread pool (a journal wait blocks no start). */
  const refillPool = () => {
    while (pool.length + poolFilling < poolSize) {
      poolFilling++
      const dir = path.join(scratchRoot, `${poolPrefix}${process.pid}-${++poolSequence}`)
      const children = pooledChildren.map((c) => path.join(dir, c))
      fs.promises
        .mkdir(scratchRoot, { recursive: true })
        .then(() => fs.promises.mkdir(dir))
        .then(() => Promise.all(children.map((c) => fs.promises.mkdir(c))))
        .then(
          () => {
            pool.push(dir)
          },
          () => fs.promises.rm(dir, { recursive: true, force: true }).catch(() => undefined)
        )
        .finally(() => {
          poolFilling--
        })
    }
  }
  /** A pooled dir moved to the run's place, or false (none ready, or the place is taken). */
  const takePooled = (layout: RunLayout): boolean => {
    const dir = pool.shift()
    refillPool()
    if (dir === undefined) return false
    try {
      fs.renameSync(dir, layout.dir)
      return true
    } catch {
      // A run dir of that id is still there (a repeated Start): the dir goes back, the slow path decides.
      pool.push(dir)
      return false
    }
  }

  const makeRunDir = (layout: RunLayout) => {
    makeOnce(scratchRoot)
    try {
      fs.mkdirSync(layout.dir)
      return
    } catch (error) {
      if (!(error instanceof Error && "code" in error && error.code === "EEXIST")) throw error
    }
    if (fs.existsSync(layout.journal)) throw new Error(`run ${layout.dir} has an unfinished commit; recover first`)
    fs.rmSync(layout.dir, { recursive: true, force: true })
    fs.mkdirSync(layout.dir)
  }

  const hiddenNow = (): { readonly dirs: Array<string>; readonly files: Array<string> } => {
    const dirs: Array<string> = []
    const files: Array<string> = []
    for (const h of hidden) {
      let kind = hiddenKind.get(h)
      if (kind === undefined) {
        const s = lstatOrNull(h)
        if (s === null) continue
        kind = s.isDirectory() ? "dir" : "file"
        hiddenKind.set(h, kind)
      }
      if (kind === "dir") dirs.push(h)
      else files.push(h)
    }
    return { dirs, files }
  }

  const prepareSync = (spec: PipelineSpec): { readonly launch: Launch; readonly warnings: ReadonlyArray<string> } => {
    const layout = runLayout(scratchRoot, spec.runId)
    const pooled = takePooled(layout)
    if (!pooled) makeRunDir(layout)
    const trees: Array<TreePlan> = roots.map(([name, root]) => {
      const real = path.join(root, spec.patientId)
      const dirs = layout.tree(name)
      makeOnce(root)
      const s = lstatOrNull(real)
      if (s !== null && !s.isDirectory()) {
        throw new Error(`refused: ${real} is ${s.isSymbolicLink() ? "a symlink" : "not a directory"}; a patient's folder must be a real directory`)
      }
      const direct = s === null
      // P's mount point in the shell; an overlay also needs its work dir.
      const made = pooled ? [] : direct ? [dirs.upper, dirs.shell] : [dirs.upper, dirs.work, dirs.shell]
      for (const d of [...made, path.join(dirs.shell, spec.patientId)]) fs.mkdirSync(d)
      // The overlay's root shows upper's own mode, not the real folder's: without this a run saw P as
      // 0755 and its commit set a 0750 folder to 0755 though it changed nothing.
      if (s !== null) fs.chmodSync(dirs.upper, s.mode & 0o7777)
      const lower = direct ? layout.empty : real
      if (!direct) {
        for (const p of [lower, dirs.upper, dirs.work]) {
          if (unmountablePath(p)) throw new Error(`path ${JSON.stringify(p)} contains a character overlayfs options cannot carry (, : \\ newline)`)
        }
      }
      return { name, root, real, lower, existed: !direct, upper: dirs.upper, work: dirs.work, shell: dirs.shell, ...(direct ? { direct } : {}) }
    })
    const warnings: Array<string> = []
    const repoBinds = options.repoWriteWhitelist.length === 0 ? [] : stageRepoWrites(layout, warnings)
    const limits = limitsFor(spec.service)
    if (cgroupsOk === undefined) cgroupsOk = cgroupRoot !== "" && cgroupsUsable(cgroupRoot)
    let cgroups: RunCgroups | null = null
    if (cgroupsOk) {
      try {
        cgroups = createRunCgroups(cgroupRoot, cgroupGroup, spec.runId, limits)
      } catch (error) {
        // Looked at again at the next run (the hierarchy may have been unmounted under us).
        cgroupsOk = undefined
        throw error
      }
    }
    let cache: Bind | undefined
    if (cacheDir !== undefined && home !== undefined) {
      makeOnce(cacheDir)
      makeOnce(path.join(home, ".cache"))
      cache = { source: path.resolve(cacheDir), target: path.join(home, ".cache") }
    }
    const logFile = path.resolve(spec.logFile)
    fs.mkdirSync(path.dirname(logFile), { recursive: true })
    fs.closeSync(fs.openSync(logFile, "a"))
    const hiddenPaths = hiddenNow()
    const reach = reachablePaths(spec)
    const args = bwrapArgs({
      trees,
      patientId: spec.patientId,
      reachable: reach.early,
      hiddenDirs: hiddenPaths.dirs,
      hiddenFiles: hiddenPaths.files,
      exposed: reach.late,
      cache,
      logFile,
      repoBinds,
      limits,
      identity: unprivileged ? { uid: process.getuid?.() ?? 65534, gid: process.getgid?.() ?? 65534 } : undefined
    })
    if (enter === undefined) throw new Error("lomi-enter is not built (make monitor builds .build/lomi-enter; or set LOMI_ENTER)")
    const rlimits = rlimitBytes(limits, cgroups !== null)
    const chain: ChainPlan = {
      enter,
      bwrap: options.bwrapPath,
      unprivileged,
      cgroupProcs: cgroups === null ? [] : [path.join(cgroups.pids, "cgroup.procs"), path.join(cgroups.memory, "cgroup.procs")],
      trees,
      fsizeBytes: rlimits.fsize,
      asBytes: rlimits.as,
      bwrapArgs: args,
      command: ["bash", path.resolve(spec.script), spec.docId, spec.patientId, spec.service]
    }
    const plan: RunPlan = { version: 1, runId: spec.runId, patientId: spec.patientId, service: spec.service, trees, limits, cgroups, unprivileged }
    // Neither fsynced nor renamed into place: a machine crash ends the run too, a host crash before
    // the write's end means the run never started, and finish without a (whole) plan commits nothing.
    fs.writeFileSync(layout.plan, JSON.stringify(plan))
    plans.set(spec.runId, plan)
    const env: Record<string, string> = {}
    const merged = {
      ...process.env,
      ...spec.env,
      ...options.extraEnv,
      ...(options.minicondaBase === "" ? {} : { LOMI_MINICONDA_BASE: options.minicondaBase }),
      PYTHONDONTWRITEBYTECODE: "1",
      LOMI_BASE_DIR: roots[0]?.[1] ?? "",
      LOMI_USER_DIR: roots[1]?.[1] ?? "",
      TMPDIR: "/tmp",
      ...(options.home === undefined ? {} : { HOME: options.home })
    }
    for (const [k, v] of Object.entries(merged)) if (v !== undefined) env[k] = v
    const launch = enterCommand(chain, spec.patientId)
    return { launch: { command: launch.command, args: launch.args, env, timeLimitMs: limits.timeLimitSeconds * 1000 }, warnings }
  }

  const prepare = (spec: PipelineSpec): Effect.Effect<Launch, SpawnError> =>
    Effect.gen(function* () {
      if (!isSafeSegment(spec.patientId)) {
        return yield* Effect.fail(spawnError(`patient id is not a safe path segment: ${JSON.stringify(spec.patientId)}`))
      }
      const isFile = fs.statSync(spec.script, { throwIfNoEntry: false })?.isFile() ?? false
      if (!isFile) return yield* Effect.fail(spawnError(`pipeline script not found: ${spec.script}`))
      return yield* Effect.try({
        try: () => prepareSync(spec),
        catch: (error) => spawnError(`cannot prepare the sandbox of run ${spec.runId}: ${errorText(error)}`)
      }).pipe(
        Effect.tapError(() =>
          Effect.sync(() => {
            const layout = runLayout(scratchRoot, spec.runId)
            plans.delete(spec.runId)
            // The groups may exist before the plan does (it is written last).
            if (cgroupsOk === true) removeRunCgroups(runCgroupPaths(cgroupRoot, cgroupGroup, spec.runId))
            if (!fs.existsSync(layout.journal)) fs.rmSync(layout.dir, { recursive: true, force: true })
          })
        ),
        Effect.tap(({ warnings }) => Effect.forEach(warnings, (w) => Effect.logWarning(w), { discard: true })),
        Effect.map(({ launch }) => launch)
      )
    }).pipe(Effect.withSpan("SandboxLauncher.prepare"))

  /** The run's final tree, per patient folder, as the kernel's overlay shows it (read-only remount). */
  const listFinal = (plan: RunPlan, layout: RunLayout): Effect.Effect<Map<TreeName, Set<string>>, Error> =>
    Effect.async<Map<TreeName, Set<string>>, Error>((resume) => {
      const views = plan.trees.map((t) => ({
        lower: t.lower,
        upper: t.upper,
        mountPoint: path.join(layout.dir, "listing", t.name),
        dirs: dirsToList(t)
      }))
      // Nothing to read (the run changed nothing, or only made new folders): no mount needed, nor its mount points.
      if (views.every((v) => v.dirs.length === 0)) {
        resume(Effect.succeed(new Map(plan.trees.map((t) => [t.name, new Set<string>()]))))
        return
      }
      // Only a tree with something to list is mounted (listingScript), so only it needs a mount point; a direct
      // tree's lower (`empty/`) is made only now: listed only when P's folder appeared during the run.
      for (const v of views) {
        if (v.dirs.length === 0) continue
        fs.mkdirSync(v.mountPoint, { recursive: true })
        fs.mkdirSync(v.lower, { recursive: true })
      }
      const child = execFile(
        unshare,
        [plan.unprivileged ? "-Urm" : "-m", "--propagation", "private", "--", sh, "-c", listingScript(views, plan.unprivileged)],
        { encoding: "buffer", maxBuffer: 1 << 30 },
        (error, stdout, stderr) => {
          if (error !== null) {
            resume(Effect.fail(new Error(`${errorText(error)} ${stderr.toString().trim()}`)))
            return
          }
          const parts = stdout.toString("utf8").split("\0")
          const out = new Map<TreeName, Set<string>>()
          let i = -1
          let current = new Set<string>()
          for (const part of parts) {
            if (part === "TREE") {
              i++
              current = new Set<string>()
              const t = plan.trees[i]
              if (t !== undefined) out.set(t.name, current)
            } else if (part !== "") current.add(part.startsWith("./") ? part.slice(2) : part)
          }
          resume(Effect.succeed(out))
        }
      )
      return Effect.sync(() => {
        child.kill("SIGKILL")
      })
    })

  /** Leaves only plan.json and outcome.json in the run dir. */
  const shrink = (layout: RunLayout) =>
    Effect.promise(async () => {
      for (const name of fs.readdirSync(layout.dir)) {
        if (name === "plan.json" || name === "outcome.json") continue
        await quickRemove(path.join(layout.dir, name)).catch(() => undefined)
      }
    })

  const failedMessage = (plan: RunPlan, raw: RawExit, limitsHit: { memoryHit: boolean; pidsHit: boolean }): string | undefined => {
    if (raw.timedOut) return `time limit of ${plan.limits.timeLimitSeconds} s exceeded: the run was killed`
    if (limitsHit.memoryHit && raw.code !== 0) return `memory limit of ${plan.limits.memoryMiB} MiB reached (service ${plan.service})`
    if (limitsHit.pidsHit && raw.code !== 0) return `process limit of ${plan.limits.maxProcesses} reached (service ${plan.service})`
    return undefined
  }

  const finish = (spec: PipelineSpec, raw: RawExit): Effect.Effect<PipelineExit> =>
    Effect.gen(function* () {
      const layout = runLayout(scratchRoot, spec.runId)
      const prior = readJson<PipelineExit>(layout.outcome)
      if (prior !== undefined) return prior
      const plan = plans.get(spec.runId) ?? readJson<RunPlan>(layout.plan)
      if (plan === undefined) {
        const lost = raw.code === 0 && !raw.timedOut
        return {
          code: raw.code,
          signal: raw.signal,
          ...(lost ? { errorMessage: `the sandbox of run ${spec.runId} is gone (${layout.dir}): nothing was committed` } : {}),
          ...(raw.timedOut ? { errorMessage: "time limit exceeded: the run was killed" } : {})
        }
      }
      const cgroups = plan.cgroups
      // Read only for a failed run: a limit explains a non-zero exit, never a success.
      const hit = cgroups === null || raw.code === 0 ? { memoryHit: false, pidsHit: false } : readCgroupVerdict(cgroups)
      if (cgroups !== null) {
        // Beside the finish, not before it: an rmdir in the memory hierarchy takes tens of ms, and the
        // group is busy for a moment after the exit while the kernel tears the last processes down
        // (the verdict is already read; release and recover remove the groups too).
        yield* Effect.forkDaemon(
          Effect.sync(() => removeRunCgroups(cgroups, true)).pipe(
            Effect.repeat({ until: (removed) => removed, schedule: Schedule.spaced(Duration.millis(20)), times: 100 }),
            Effect.ignore
          )
        )
      }
      // Durable only for a commit (runCommit's journal is removed after it): any other outcome is
      // decided again from the unchanged upper dir if a crash loses it.
      const record = (exit: PipelineExit) => () => writeAtomic(layout.outcome, JSON.stringify(exit))
      const recordQuick = (exit: PipelineExit) => writeAtomic(layout.outcome, JSON.stringify(exit), false)
      const success: PipelineExit = { code: 0, signal: null }

      const outcome = yield* lockFor(plan.patientId).withPermits(1)(
        Effect.gen(function* () {
          // A commit a crash interrupted: completed (then that is the answer) or rolled back (then planned again below).
          if (recoverJournal(layout.journal, record(success)) === "committed") return success
          const failure = failedMessage(plan, raw, hit)
          if (raw.code !== 0 || raw.timedOut || failure !== undefined) {
            const changed = describeUpper(plan)
            yield* appendLog(spec.logFile, [
              `exit ${raw.code ?? raw.signal ?? "?"}${failure === undefined ? "" : ` (${failure})`}: nothing committed; ${changed.length} changed path(s) discarded`,
              ...changed.slice(0, listCap),
              ...(changed.length > listCap ? [`… and ${changed.length - listCap} more`] : [])
            ])
            const exit: PipelineExit = { code: raw.code, signal: raw.signal, ...(failure === undefined ? {} : { errorMessage: failure }) }
            recordQuick(exit)
            return exit
          }
          const listings = yield* listFinal(plan, layout)
          const changes = computeChanges(plan, listings, tempName(spec.runId))
          if (changes.refusals.length > 0) {
            const first = changes.refusals[0]
            const more = changes.refusals.length > 1 ? ` (and ${changes.refusals.length - 1} more)` : ""
            const message = `sandbox refused the run's changes, nothing committed: ${first?.path ?? "?"}: ${first?.why ?? "?"}${more}`
            yield* appendLog(spec.logFile, [
              message,
              ...changes.refusals.slice(0, listCap).map((r) => `refused ${r.path}: ${r.why}`),
              ...describeUpper(plan).slice(0, listCap)
            ])
            const exit: PipelineExit = { code: raw.code, signal: raw.signal, errorMessage: message }
            recordQuick(exit)
            return exit
          }
          for (const w of changes.strayWhiteouts) fs.rmSync(w, { force: true })
          // Nothing changed: nothing to journal, nor to record (a second finish decides the same again
          // from the same empty upper dirs; the groups' verdict only matters for a failed run).
          if (changes.ops.length > 0) runCommit(layout.journal, spec.runId, changes.ops, record(success), options.commitProbe)
          yield* appendLog(spec.logFile, [`exit 0: committed ${changes.ops.length} change(s) to patient ${plan.patientId}'s folders`])
          return success
        }).pipe(
          Effect.catchAllCause((cause) =>
            Effect.as(
              appendLog(spec.logFile, [`finish failed: ${String(cause)}`]),
              { code: raw.code, signal: raw.signal, errorMessage: `sandbox could not finish run ${spec.runId}: ${String(cause).slice(0, 300)}` } satisfies PipelineExit
            )
          )
        )
      )
      // A failed run's discarded changes may be large: freed now, beside the answer, not when the kernel
      // acknowledges (which may be much later). A success left only empty directories.
      const succeeded = outcome.code === 0 && outcome.errorMessage === undefined
      if (!succeeded && fs.existsSync(layout.outcome)) yield* Effect.forkDaemon(shrink(layout))
      return outcome
    }).pipe(Effect.withSpan("SandboxLauncher.finish"))

  const recover = (live: ReadonlySet<number>): Effect.Effect<number> =>
    Effect.gen(function* () {
      const names = fs.existsSync(scratchRoot) ? fs.readdirSync(scratchRoot) : []
      let removed = 0
      for (const name of names) {
        if (name.startsWith(trashPrefix) || (name.startsWith(poolPrefix) && !name.startsWith(`${poolPrefix}${process.pid}-`))) {
          // A released run dir whose removal a crash interrupted, or a dir made ahead by a host now gone.
          yield* Effect.promise(() => removeTree(path.join(scratchRoot, name)).catch(() => undefined))
          continue
        }
        const m = runDirPattern.exec(name)
        if (m === null) continue
        const runId = Number(m[1])
        const layout = runLayout(scratchRoot, runId)
        const result = yield* Effect.try(() =>
          recoverJournal(layout.journal, () => writeAtomic(layout.outcome, JSON.stringify({ code: 0, signal: null })))
        ).pipe(
          Effect.tapError((error) => Effect.logError(`cannot recover the commit of run ${runId}: ${errorText(error)}`)),
          Effect.orElseSucceed(() => "failed" as const)
        )
        if (result !== "none") yield* Effect.log(`sandbox commit of run ${runId}: ${result}`)
        if (live.has(runId) || result === "failed") continue
        const plan = readJson<RunPlan>(layout.plan)
        if (plan?.cgroups) closeRunCgroups(plan.cgroups)
        const ok = yield* Effect.promise(() => removeTree(layout.dir).then(() => true, () => false))
        if (ok) removed++
        else yield* Effect.logError(`cannot remove stale sandbox dir ${layout.dir}`)
      }
      if (removed > 0) yield* Effect.log(`removed ${removed} stale sandbox run dir(s) from ${scratchRoot}`)
      return removed
    }).pipe(Effect.withSpan("SandboxLauncher.recover"))

  const release = (runId: number): Effect.Effect<void> =>
    Effect.gen(function* () {
      const layout = runLayout(scratchRoot, runId)
      // An unfinished commit is never dropped: start-up recovery must see its journal.
      if (fs.existsSync(layout.journal)) return yield* Effect.logError(`run ${runId} still has a commit journal; kept for recovery`)
      const plan = plans.get(runId) ?? readJson<RunPlan>(layout.plan)
      plans.delete(runId)
      // Renamed out of the way at once (one syscall), removed beside the caller; recover removes what a crash left.
      const trash = path.join(scratchRoot, `${trashPrefix}${path.basename(layout.dir)}-${process.pid}-${++trashSequence}`)
      const moved = yield* Effect.try(() => fs.renameSync(layout.dir, trash)).pipe(Effect.isSuccess)
      if (!moved && !fs.existsSync(layout.dir)) return
      // The run's groups (finish's removal may still be retrying), and this host's parent groups when
      // no other run is in them. Keeping the parents between runs saved two mkdirs and two rmdirs per
      // run but left them behind whenever a host or test process ended within the quiet delay.
      const closeGroups = Effect.sync(() => {
        if (plan?.cgroups) closeRunCgroups(plan.cgroups)
      })
      if (moved && options.releaseInBackground === true && options.discard !== undefined) {
        yield* closeGroups
        return options.discard(trash)
      }
      const remove = Effect.gen(function* () {
        yield* closeGroups
        const ok = yield* Effect.promise(() => quickRemove(moved ? trash : layout.dir).then(() => true, () => false))
        if (!ok) yield* Effect.logError(`cannot remove sandbox dir ${layout.dir}`)
      })
      if (options.releaseInBackground === true) yield* Effect.forkDaemon(remove)
      else yield* remove
    }).pipe(Effect.withSpan("SandboxLauncher.release"))

  return { prepare, finish, release, recover }
}
