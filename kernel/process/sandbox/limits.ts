/**
 * Per-run resource limits, enforced by the kernel rather than by polling:
 *
 * - processes and memory: a cgroup v1 `pids` and `memory` group per run when
 *   the host is root and those hierarchies are writable (the launch script
 *   joins them before anything else runs, so every descendant is counted);
 *   otherwise RLIMIT_AS for memory (set by lomi-enter, enter.c), and no process cap (RLIMIT_NPROC counts
 *   every process of the uid, which is the daemon's own: it would throttle
 *   the host, not the run).
 * - scratch disk: RLIMIT_FSIZE (no single file the run writes can grow past
 *   it; SIGXFSZ / EFBIG). It bounds a runaway writer, not the sum of many files.
 * - wall-clock time: `Launch.timeLimitMs`, enforced by the monitor.
 * - network: `--unshare-net` when off.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync, accessSync, constants as fsConstants } from "node:fs"
import * as path from "node:path"

export interface RunLimits {
  /** Processes and threads alive at once in the run. */
  readonly maxProcesses: number
  readonly memoryMiB: number
  readonly timeLimitSeconds: number
  /** Largest file the run may write (RLIMIT_FSIZE). */
  readonly scratchDiskMiB: number
  /** false: the run gets its own empty network namespace. */
  readonly network: boolean
}

export const defaultLimits: RunLimits = {
  maxProcesses: 2048,
  memoryMiB: 16384,
  timeLimitSeconds: 24 * 3600,
  scratchDiskMiB: 200 * 1024,
  network: true
}

export const resolveLimits = (partial: Partial<RunLimits> | undefined): RunLimits => ({
  ...defaultLimits,
  ...Object.fromEntries(Object.entries(partial ?? {}).filter(([, v]) => v !== undefined))
})

const MiB = 1024 * 1024

/** The cgroup directories of one run (absent when cgroups are not usable). */
export interface RunCgroups {
  readonly pids: string
  readonly memory: string
}

const writable = (dir: string): boolean => {
  try {
    accessSync(dir, fsConstants.W_OK)
    return existsSync(path.join(dir, "cgroup.procs"))
  } catch {
    return false
  }
}

/** True when per-run cgroup v1 groups can be made under `root` (root user, rw pids and memory hierarchies). */
export const cgroupsUsable = (root: string): boolean =>
  process.getuid?.() === 0 && writable(path.join(root, "pids")) && writable(path.join(root, "memory"))

/** Creates the run's cgroups with its limits. `group` names this host's parent group (one per scratch root). */
export const createRunCgroups = (root: string, group: string, runId: number, limits: RunLimits): RunCgroups => {
  const cg = runCgroupPaths(root, group, runId)
  mkdirSync(cg.pids, { recursive: true })
  mkdirSync(cg.memory, { recursive: true })
  writeFileSync(path.join(cg.pids, "pids.max"), String(limits.maxProcesses))
  writeFileSync(path.join(cg.memory, "memory.limit_in_bytes"), String(limits.memoryMiB * MiB))
  return cg
}

export const runCgroupPaths = (root: string, group: string, runId: number): RunCgroups => ({
  pids: path.join(root, "pids", group, `run-${runId}`),
  memory: path.join(root, "memory", group, `run-${runId}`)
})

const readNumber = (file: string, pattern?: RegExp): number => {
  try {
    const text = readFileSync(file, "utf8")
    const m = pattern === undefined ? /^(\d+)/.exec(text.trim()) : pattern.exec(text)
    return m === null ? 0 : Number(m[1])
  } catch {
    return 0
  }
}

export interface CgroupVerdict {
  /** The memory limit was hit (the kernel refused or reclaimed at least once). */
  readonly memoryHit: boolean
  /** A fork was refused at pids.max. */
  readonly pidsHit: boolean
}

/** What the kernel recorded against the run's limits. */
export const readCgroupVerdict = (cg: RunCgroups): CgroupVerdict => ({
  memoryHit: readNumber(path.join(cg.memory, "memory.failcnt")) > 0,
  pidsHit: readNumber(path.join(cg.pids, "pids.events"), /max (\d+)/) > 0
})

/**
 * Removes the run's groups, and with `parents` this host's parent groups when
 * no other run is left in them. False while a group is still busy (its last
 * processes are still being torn down right after the exit: EBUSY for a moment).
 */
export const removeRunCgroups = (cg: RunCgroups, parents = false): boolean => {
  let done = true
  for (const dir of [cg.pids, cg.memory]) {
    try {
      rmdirSync(dir)
    } catch (error) {
      if (!(typeof error === "object" && error !== null && "code" in error && error.code === "ENOENT")) done = false
    }
  }
  if (parents) for (const dir of [path.dirname(cg.pids), path.dirname(cg.memory)]) {
    try {
      rmdirSync(dir)
    } catch {
      // Another run of this host is still in it.
    }
  }
  return done
}

/** Removes the groups and, when empty, this host's parent groups (one attempt). */
export const closeRunCgroups = (cg: RunCgroups): void => {
  removeRunCgroups(cg, true)
}

/** The rlimits of the launch (bytes): FSIZE always, AS when memory is not capped by a cgroup. */
export const rlimitBytes = (limits: RunLimits, memoryByCgroup: boolean): { readonly fsize: number; readonly as: number | undefined } => ({
  fsize: limits.scratchDiskMiB * MiB,
  as: memoryByCgroup ? undefined : limits.memoryMiB * MiB
})
