/**
 * The launch of one sandboxed run: one process, lomi-enter (enter.c), that
 *
 *   joins the run's cgroups (root), then
 *   unshares a private mount namespace (and a user namespace when not root, as `unshare -Urm`),
 *   mounts P's view in each tree at `shell-<tree>/P` (P's real folder as an
 *     overlay's read-only lower layer, the run dir's upper dir as the writable
 *     one; or, for a patient with no folder yet in that tree, the empty upper
 *     dir itself bound there: nothing to copy up, no overlay), then
 *   sets RLIMIT_FSIZE (and RLIMIT_AS without a memory cgroup), then
 *   execs bwrap, the jail, its options on the command line.
 *
 * bwrap binds each shell over its patient root, recursively, so P's view
 * comes along in the same bind (one bwrap mount per tree, and no separate
 * mount point dirs to make and remove per run).
 *
 * It replaced a shell chain (sh → unshare → sh → mount ×2 → prlimit → bwrap):
 * six process starts per run, the sandbox's whole fixed cost on a loaded
 * machine. The process the monitor started ends as bwrap itself: signals, the
 * exit status and `--die-with-parent` behave as with a bare bwrap. The overlay
 * mounts live only in that mount namespace and vanish with it, whatever kills the run.
 *
 * Mount order inside bwrap matters (later mounts cover earlier ones):
 *   / read-only, /dev, /proc with /proc/sys read-only
 *   /tmp a private tmpfs, then what the run needs from the host's /tmp, read-only
 *   hidden paths: an empty tmpfs over directories (made read-only at the end), /dev/null over files
 *   the patient roots: a shell with only P's mount point, P's view already mounted on it
 *   the cache, the attempt's log file, the whitelisted repo copies (read-write)
 */
import type { RunLimits } from "./limits.ts"
import type { TreePlan } from "./layout.ts"

export interface Bind {
  readonly source: string
  readonly target: string
}

export interface JailPlan {
  readonly trees: ReadonlyArray<TreePlan>
  readonly patientId: string
  /** Host paths under /tmp the run needs (script folder, pipelines root, miniconda, env files): bound back read-only. */
  readonly reachable: ReadonlyArray<string>
  readonly hiddenDirs: ReadonlyArray<string>
  readonly hiddenFiles: ReadonlyArray<string>
  /** Paths inside a hidden one the run still needs (a file a service's env names): bound back read-only. */
  readonly exposed: ReadonlyArray<string>
  readonly cache: Bind | undefined
  readonly logFile: string
  readonly repoBinds: ReadonlyArray<Bind>
  readonly limits: RunLimits
  /** Map the pipeline back to this uid/gid inside (unprivileged host). */
  readonly identity: { readonly uid: number; readonly gid: number } | undefined
}

export const bwrapArgs = (plan: JailPlan): Array<string> => [
  "--ro-bind", "/", "/",
  "--dev", "/dev",
  "--proc", "/proc",
  // bwrap 0.8 leaves /proc/sys writable: as root a pipeline could retune the host's kernel.
  "--ro-bind", "/proc/sys", "/proc/sys",
  "--unshare-pid",
  "--unshare-ipc",
  "--unshare-uts",
  ...(plan.limits.network ? [] : ["--unshare-net"]),
  ...(plan.identity === undefined
    ? []
    : ["--unshare-user", "--uid", String(plan.identity.uid), "--gid", String(plan.identity.gid)]),
  "--die-with-parent",
  "--cap-drop", "ALL",
  "--tmpfs", "/tmp",
  ...plan.reachable.flatMap((p) => ["--ro-bind", p, p]),
  ...plan.hiddenDirs.flatMap((p) => ["--tmpfs", p]),
  ...plan.hiddenFiles.flatMap((p) => ["--ro-bind", "/dev/null", p]),
  ...plan.exposed.flatMap((p) => ["--ro-bind", p, p]),
  ...plan.trees.flatMap((t) => ["--bind", t.shell, t.root]),
  ...(plan.cache === undefined ? [] : ["--bind", plan.cache.source, plan.cache.target]),
  "--bind", plan.logFile, plan.logFile,
  ...plan.repoBinds.flatMap((b) => ["--bind", b.source, b.target]),
  // Last, once the mount points inside them exist: a write into a hidden dir fails (EROFS) instead of vanishing.
  ...plan.hiddenDirs.flatMap((p) => ["--remount-ro", p])
]

/** Single-quotes a word for sh. */
export const shellQuote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`

/** Characters the overlay mount option string cannot carry (it splits on `,` and `:`). */
export const unmountablePath = (p: string): boolean => /[,:\\\n]/.test(p)

export interface ChainPlan {
  /** The lomi-enter helper (enter.c, built by make beside the monitor). */
  readonly enter: string
  readonly bwrap: string
  readonly unprivileged: boolean
  readonly cgroupProcs: ReadonlyArray<string>
  readonly trees: ReadonlyArray<TreePlan>
  /** RLIMIT_FSIZE, and RLIMIT_AS when no memory cgroup caps the run (bytes). */
  readonly fsizeBytes: number
  readonly asBytes: number | undefined
  /** bwrap's options (`bwrapArgs`), on its command line: no file to write and read per run. */
  readonly bwrapArgs: ReadonlyArray<string>
  readonly command: ReadonlyArray<string>
}

/** Where P's view is mounted before bwrap starts: its mount point in the shell. */
export const viewMountPoint = (t: TreePlan, patientId: string): string => `${t.shell}/${patientId}`

/** The launch: lomi-enter joins the cgroups, unshares, mounts P's views, sets the rlimits, then execs bwrap. */
export const enterCommand = (plan: ChainPlan, patientId: string): { readonly command: string; readonly args: Array<string> } => ({
  command: plan.enter,
  args: [
    ...plan.cgroupProcs.flatMap((procs) => ["--cgroup", procs]),
    ...(plan.unprivileged ? ["--userns"] : []),
    ...plan.trees.flatMap((t) =>
      t.direct === true
        ? ["--bind", t.upper, viewMountPoint(t, patientId)]
        : ["--overlay", t.lower, t.upper, t.work, viewMountPoint(t, patientId)]
    ),
    "--fsize", String(plan.fsizeBytes),
    ...(plan.asBytes === undefined ? [] : ["--as", String(plan.asBytes)]),
    "--", plan.bwrap, ...plan.bwrapArgs, "--", ...plan.command
  ]
})

/**
 * The read-only view `finish` mounts to see the run's final tree: upper over
 * lower, whiteouts and opaque dirs honoured. Only the children of `dirs` are
 * listed (directories present both in upper and in the real folder: the only
 * places a deletion can hide), so a large untouched tree costs nothing.
 */
export const listingScript = (
  trees: ReadonlyArray<{ readonly lower: string; readonly upper: string; readonly mountPoint: string; readonly dirs: ReadonlyArray<string> }>,
  unprivileged: boolean
): string =>
  [
    "set -e",
    // A tree with nothing to list is not mounted: its lower may not exist (a direct tree's `empty/` is made only when needed).
    ...trees.flatMap((t) =>
      t.dirs.length === 0
        ? [`printf 'TREE\\0'`]
        : [
            `mount -t overlay -o ro,${shellQuote(`lowerdir=${t.upper}:${t.lower}${unprivileged ? ",userxattr" : ""}`)} overlay ${shellQuote(t.mountPoint)}`,
            `cd ${shellQuote(t.mountPoint)}`,
            `printf 'TREE\\0'`,
            ...t.dirs.map((d) => `find ${shellQuote(d === "" ? "." : `./${d}`)} -mindepth 1 -maxdepth 1 -printf '%p\\0'`),
            "cd /"
          ]
    ),
    ""
  ].join("\n")
