/**
 * What a finished run changed, read from its overlay upper dirs, and whether
 * it may be committed.
 *
 * The final tree the run left is the listing of a read-only overlay of
 * upper over the real folder (`finish` mounts it): whiteouts and opaque
 * directories are the kernel's business, so a deletion is simply "in the real
 * folder, not in the listing". Every non-whiteout entry in upper is new or
 * changed (overlayfs copies a file up before any write or chmod).
 *
 * Refused (nothing of the run is committed): anything written beside P in the
 * patient roots; setuid/setgid files; device files (other than whiteouts),
 * FIFOs and sockets; hard links (a file in upper with more than one name);
 * symlinks pointing into another patient's folder or at a root; a real path
 * on the way to a change that is a symlink.
 */
import { lstatSync, readdirSync, readlinkSync, type Stats } from "node:fs"
import * as path from "node:path"
import type { RunPlan, TreeName, TreePlan } from "./layout.ts"

export type Op =
  | {
      readonly kind: "put"
      readonly tree: TreeName
      /** Entry in upper (the new content). */
      readonly source: string
      readonly target: string
      /** Beside target: the new content waiting for its rename. */
      readonly staged: string
      /** Beside target: the old entry while the commit runs. */
      readonly backup: string
      readonly hadOld: boolean
      readonly isDir: boolean
    }
  | { readonly kind: "delete"; readonly tree: TreeName; readonly target: string; readonly backup: string }
  | { readonly kind: "mode"; readonly tree: TreeName; readonly target: string; readonly mode: number }

export interface Refusal {
  readonly path: string
  readonly why: string
}

export interface ChangeSet {
  readonly ops: ReadonlyArray<Op>
  readonly refusals: ReadonlyArray<Refusal>
  /** Whiteouts inside new directories: removed before those directories are moved. */
  readonly strayWhiteouts: ReadonlyArray<string>
}

const lstatOrNull = (p: string): Stats | null => {
  try {
    return lstatSync(p)
  } catch {
    return null
  }
}

export const isWhiteout = (s: Stats): boolean => s.isCharacterDevice() && s.rdev === 0

const inside = (parent: string, child: string) => child === parent || child.startsWith(parent + path.sep)

/** Why an entry the run produced cannot come back, or undefined when it may. */
const entryRefusal = (plan: RunPlan, target: string, upperPath: string, s: Stats): string | undefined => {
  if (s.isFile() && (s.mode & 0o6000) !== 0) return "setuid/setgid file"
  if (s.isCharacterDevice() || s.isBlockDevice()) return "device file"
  if (s.isFIFO()) return "FIFO"
  if (s.isSocket()) return "socket"
  if (s.isFile() && s.nlink > 1) return "hard link (a file with more than one name)"
  if (s.isSymbolicLink()) {
    const to = path.resolve(path.dirname(target), readlinkSync(upperPath))
    for (const t of plan.trees) {
      if (inside(t.root, to) && !inside(t.real, to)) return `symlink to ${to}, outside patient ${plan.patientId}'s folders`
    }
  }
  return undefined
}

/**
 * Compares the run's result with the real folders. `listings[tree]` holds the
 * relative paths of the final tree. Reads only; changes nothing.
 */
export const computeChanges = (
  plan: RunPlan,
  listings: ReadonlyMap<TreeName, ReadonlySet<string>>,
  tempName: (kind: "new" | "old", index: number) => string
): ChangeSet => {
  const ops: Array<Op> = []
  const refusals: Array<Refusal> = []
  const strayWhiteouts: Array<string> = []
  let index = 0
  const temps = (target: string) => {
    const i = index++
    return {
      staged: path.join(path.dirname(target), tempName("new", i)),
      backup: path.join(path.dirname(target), tempName("old", i))
    }
  }

  for (const tree of plan.trees) {
    const final = listings.get(tree.name) ?? new Set<string>()

    // Beside P in the patient root: only P's own (empty) mount point may exist.
    for (const name of readdirSync(tree.shell)) {
      const s = lstatOrNull(path.join(tree.shell, name))
      const empty = s !== null && s.isDirectory() && readdirSync(path.join(tree.shell, name)).length === 0
      if (name !== plan.patientId || !empty) {
        refusals.push({ path: path.join(tree.root, name), why: `written outside patient ${plan.patientId}'s folder` })
      }
    }

    /** Validates a whole new subtree (a directory the real tree does not have). */
    const checkSubtree = (upperDir: string, targetDir: string) => {
      for (const name of readdirSync(upperDir)) {
        const u = path.join(upperDir, name)
        const t = path.join(targetDir, name)
        const s = lstatSync(u)
        if (isWhiteout(s)) {
          strayWhiteouts.push(u)
          continue
        }
        const why = entryRefusal(plan, t, u, s)
        if (why !== undefined) refusals.push({ path: t, why })
        else if (s.isDirectory()) checkSubtree(u, t)
      }
    }

    const visitDir = (rel: string) => {
      const upperDir = path.join(tree.upper, rel)
      const realDir = path.join(tree.real, rel)
      for (const name of readdirSync(realDir)) {
        const childRel = path.join(rel, name)
        if (!final.has(childRel)) {
          const target = path.join(realDir, name)
          ops.push({ kind: "delete", tree: tree.name, target, backup: temps(target).backup })
        }
      }
      for (const name of readdirSync(upperDir)) {
        const childRel = path.join(rel, name)
        const source = path.join(upperDir, name)
        const target = path.join(realDir, name)
        const s = lstatSync(source)
        if (isWhiteout(s) || !final.has(childRel)) continue
        const why = entryRefusal(plan, target, source, s)
        if (why !== undefined) {
          refusals.push({ path: target, why })
          continue
        }
        const real = lstatOrNull(target)
        if (s.isDirectory() && real !== null && real.isDirectory()) {
          if ((real.mode & 0o7777) !== (s.mode & 0o7777)) ops.push({ kind: "mode", tree: tree.name, target, mode: s.mode & 0o7777 })
          visitDir(childRel)
          continue
        }
        if (s.isDirectory()) checkSubtree(source, target)
        ops.push({ kind: "put", tree: tree.name, source, target, ...temps(target), hadOld: real !== null, isDir: s.isDirectory() })
      }
    }

    const upperRoot = lstatSync(tree.upper)
    const realRoot = lstatOrNull(tree.real)
    if (realRoot !== null && !realRoot.isDirectory()) {
      refusals.push({ path: tree.real, why: "the patient's folder is not a directory (a symlink?) in the real tree" })
      continue
    }
    if (realRoot === null) {
      // A patient without a folder: the run's whole result is one new directory.
      if (readdirSync(tree.upper).length === 0) continue
      checkSubtree(tree.upper, tree.real)
      ops.push({ kind: "put", tree: tree.name, source: tree.upper, target: tree.real, ...temps(tree.real), hadOld: false, isDir: true })
      continue
    }
    if ((realRoot.mode & 0o7777) !== (upperRoot.mode & 0o7777)) {
      ops.push({ kind: "mode", tree: tree.name, target: tree.real, mode: upperRoot.mode & 0o7777 })
    }
    // An empty upper: the run changed nothing here (and the final tree was not listed).
    if (readdirSync(tree.upper).length > 0) visitDir("")
  }
  return { ops, refusals, strayWhiteouts }
}

/** Paths a run changed, from its upper dirs alone (for the log of a run that is not committed). */
export const describeUpper = (plan: RunPlan): Array<string> => {
  const out: Array<string> = []
  const walk = (upperDir: string, realDir: string) => {
    let names: Array<string>
    try {
      names = readdirSync(upperDir)
    } catch {
      return
    }
    for (const name of names) {
      const s = lstatOrNull(path.join(upperDir, name))
      if (s === null) continue
      const target = path.join(realDir, name)
      if (isWhiteout(s)) out.push(`deleted ${target}`)
      else if (s.isDirectory()) {
        if (lstatOrNull(target) === null) out.push(`new dir ${target}`)
        walk(path.join(upperDir, name), target)
      } else out.push(`${lstatOrNull(target) === null ? "new" : "changed"} ${target}`)
    }
  }
  for (const tree of plan.trees) {
    walk(tree.upper, tree.real)
    try {
      for (const name of readdirSync(tree.shell)) if (name !== plan.patientId) out.push(`outside P ${path.join(tree.root, name)}`)
    } catch {
      // No shell: nothing was written beside P.
    }
  }
  return out
}

/**
 * Directories (relative to P) present both in upper and, as real directories,
 * in P's real folder: where the final tree must be read to see deletions.
 * Empty when the run changed nothing.
 */
export const dirsToList = (tree: TreePlan): Array<string> => {
  const out: Array<string> = []
  const walk = (rel: string) => {
    const real = lstatOrNull(path.join(tree.real, rel))
    if (real === null || !real.isDirectory()) return
    const names = readdirSync(path.join(tree.upper, rel))
    if (rel === "" && names.length === 0) return
    out.push(rel)
    for (const name of names) {
      const childRel = path.join(rel, name)
      const s = lstatOrNull(path.join(tree.upper, childRel))
      if (s !== null && s.isDirectory()) walk(childRel)
    }
  }
  walk("")
  return out
}
