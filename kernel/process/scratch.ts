/**
 * Per-run scratch trees for the sandbox: staging patient data in, bringing
 * outputs back, removing what is left. See README.md in this folder for the
 * trade-offs; in short:
 *
 * - Staging builds a *hard-link farm*: directories are created, regular files
 *   are hard-linked (no bytes copied), symlinks are recreated. Files smaller
 *   than `copyBelowBytes` are copied instead (up to `copyBudgetBytes` and
 *   `copyMaxFiles` per tree), so the small files a pipeline typically
 *   rewrites in place (JSON, CSV, HTML, counters, earlier outputs) are
 *   private to the run. A file that cannot be linked (other filesystem,
 *   fs.protected_hardlinks) is copied.
 * - Every staged entry is recorded in a manifest (inode, size, mtime in ns).
 * - Copy-back walks the scratch tree and moves back only entries that are new
 *   or differ from the manifest, by rename (same filesystem, no bytes moved)
 *   or copy + rename (other filesystem). Files the run did not touch are never
 *   written back, so a concurrent update of the real file is not clobbered.
 *   Deletions inside the sandbox are not propagated.
 *
 * The per-entry work (lstat, link, rename, unlink) uses synchronous calls in
 * batches, yielding to the event loop every `batch` operations: each such
 * call takes microseconds, while a round trip through libuv's thread pool
 * costs several times that, which dominated staging on slow hosts. Large
 * copies (the fallbacks) stay asynchronous so they never block the loop.
 */
import * as fsSync from "node:fs"
import { promises as fs, type BigIntStats } from "node:fs"
import * as path from "node:path"

export interface StageLimits {
  /** Regular files smaller than this are copied; larger ones are hard-linked. */
  readonly copyBelowBytes: number
  /** At most this many bytes are copied per tree; beyond it everything is linked. */
  readonly copyBudgetBytes: number
  /** At most this many files are copied per tree (each costs a create and, later, a delete). */
  readonly copyMaxFiles: number
}

/** Every file is copied: used for the private copies of whitelisted repo paths. */
export const copyEverything: StageLimits = {
  copyBelowBytes: Number.POSITIVE_INFINITY,
  copyBudgetBytes: Number.POSITIVE_INFINITY,
  copyMaxFiles: Number.POSITIVE_INFINITY
}

interface ManifestEntry {
  readonly ino: bigint
  readonly size: bigint
  readonly mtimeNs: bigint
}

export type Manifest = Map<string, ManifestEntry>

export interface StageStats {
  files: number
  linked: number
  copied: number
  copiedBytes: number
  /** Files that had to be copied because linking failed (EXDEV, EPERM, EMLINK). */
  linkFallbacks: number
  symlinks: number
  dirs: number
}

export interface CopyBackResult {
  moved: number
  movedBytes: number
  /** Hard-linked inputs edited in place: the change already reached the real file. */
  inPlace: Array<string>
  newDirs: number
  errors: Array<string>
}

const errnoOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined

const lstatOrNull = (p: string): BigIntStats | null => {
  const s = fsSync.lstatSync(p, { bigint: true, throwIfNoEntry: false })
  return s ?? null
}

/** Counts synchronous operations and yields to the event loop every `batch` of them. */
const makePacer = (batch = 128) => {
  let count = 0
  return (): Promise<void> | undefined => {
    if (++count % batch !== 0) return undefined
    // setImmediate, not a timer: it only lets pending I/O callbacks run.
    return new Promise<void>((resolve) => setImmediate(resolve))
  }
}

/** Copies above this size go through the thread pool instead of blocking the loop. */
const syncCopyLimit = 1024 * 1024

const join = (rel: string, name: string) => (rel === "" ? name : `${rel}/${name}`)

/** Copies one file, keeping its mode and timestamps. */
export const copyFilePreserving = async (source: string, target: string, stats: BigIntStats): Promise<void> => {
  if (stats.size < BigInt(syncCopyLimit)) fsSync.copyFileSync(source, target)
  else await fs.copyFile(source, target)
  fsSync.utimesSync(target, Number(stats.atimeNs) / 1e9, Number(stats.mtimeNs) / 1e9)
}

/**
 * Mirrors `source` into `target` (which is created): a hard-link farm with
 * small files copied, per `limits`. A missing source yields an empty target.
 */
export const stageTree = async (
  source: string,
  target: string,
  limits: StageLimits
): Promise<{ readonly manifest: Manifest; readonly stats: StageStats }> => {
  const manifest: Manifest = new Map()
  const stats: StageStats = { files: 0, linked: 0, copied: 0, copiedBytes: 0, linkFallbacks: 0, symlinks: 0, dirs: 0 }
  let budget = limits.copyBudgetBytes
  const pace = makePacer()

  const recordStaged = (rel: string, staged: string) => {
    const s = fsSync.lstatSync(staged, { bigint: true })
    manifest.set(rel, { ino: s.ino, size: s.size, mtimeNs: s.mtimeNs })
  }

  const stageFile = async (src: string, dst: string, rel: string) => {
    const s = fsSync.lstatSync(src, { bigint: true })
    const size = Number(s.size)
    stats.files++
    if (size < limits.copyBelowBytes && size <= budget && stats.copied < limits.copyMaxFiles) {
      budget -= size
      await copyFilePreserving(src, dst, s)
      stats.copied++
      stats.copiedBytes += size
      recordStaged(rel, dst)
      return
    }
    try {
      fsSync.linkSync(src, dst)
      stats.linked++
      // Same inode: its identity, size and mtime are what `src` just reported (a link changes only ctime).
      manifest.set(rel, { ino: s.ino, size: s.size, mtimeNs: s.mtimeNs })
    } catch (error) {
      const code = errnoOf(error)
      if (code !== "EXDEV" && code !== "EPERM" && code !== "EMLINK" && code !== "EACCES") throw error
      await copyFilePreserving(src, dst, s)
      stats.linkFallbacks++
      stats.copied++
      stats.copiedBytes += size
      recordStaged(rel, dst)
    }
  }

  const walk = async (src: string, dst: string, rel: string): Promise<void> => {
    fsSync.mkdirSync(dst, { recursive: true })
    stats.dirs++
    if (rel !== "") recordStaged(rel, dst)
    let entries
    try {
      entries = await fs.readdir(src, { withFileTypes: true })
    } catch (error) {
      if (errnoOf(error) === "ENOENT") return
      throw error
    }
    for (const entry of entries) {
      const s = path.join(src, entry.name)
      const d = path.join(dst, entry.name)
      const r = join(rel, entry.name)
      if (entry.isDirectory()) await walk(s, d, r)
      else if (entry.isFile()) await stageFile(s, d, r)
      else if (entry.isSymbolicLink()) {
        fsSync.symlinkSync(fsSync.readlinkSync(s), d)
        stats.symlinks++
        recordStaged(r, d)
      }
      // FIFOs, sockets and devices are not patient data: not staged.
      await pace()
    }
  }

  await walk(source, target, "")
  return { manifest, stats }
}

const sameContentStamp = (a: BigIntStats, b: BigIntStats) =>
  a.size === b.size && a.mtimeNs / 1_000_000n === b.mtimeNs / 1_000_000n

let tempCounter = 0
const tempBeside = (target: string) => `${target}.lomi-copyback-${process.pid}-${tempCounter++}`

/** Puts `source` (a scratch file) at `target`: rename when possible, else copy + rename. */
const moveFile = async (source: string, target: string, stats: BigIntStats): Promise<void> => {
  try {
    fsSync.renameSync(source, target)
  } catch (error) {
    if (errnoOf(error) !== "EXDEV") throw error
    const temp = tempBeside(target)
    try {
      await copyFilePreserving(source, temp, stats)
      fsSync.renameSync(temp, target)
    } catch (copyError) {
      fsSync.rmSync(temp, { force: true })
      throw copyError
    }
  }
}

const replaceWithSymlink = (source: string, target: string): void => {
  const temp = tempBeside(target)
  fsSync.symlinkSync(fsSync.readlinkSync(source), temp)
  try {
    fsSync.renameSync(temp, target)
  } catch (error) {
    fsSync.rmSync(temp, { force: true })
    throw error
  }
}

/**
 * Brings back from `scratch` into `real` every entry that is new or changed
 * relative to `manifest`. Errors are collected, not thrown: one bad file must
 * not keep the other outputs from coming back.
 */
export const copyBackTree = async (scratch: string, real: string, manifest: Manifest): Promise<CopyBackResult> => {
  const result: CopyBackResult = { moved: 0, movedBytes: 0, inPlace: [], newDirs: 0, errors: [] }
  const pace = makePacer()

  const unchanged = (rel: string, s: BigIntStats) => {
    const m = manifest.get(rel)
    return m !== undefined && m.ino === s.ino && m.size === s.size && m.mtimeNs === s.mtimeNs
  }

  const visitDir = async (rel: string, src: string, dst: string): Promise<void> => {
    // Checked at every level, so nothing is ever written through a symlink in the real tree.
    // The configured root itself may be a symlink (e.g. onto a data disk): follow that one.
    const existing =
      rel === "" ? (fsSync.statSync(dst, { bigint: true, throwIfNoEntry: false }) ?? null) : lstatOrNull(dst)
    if (existing === null) {
      fsSync.mkdirSync(dst, { recursive: true })
      if (!manifest.has(rel)) result.newDirs++
    } else if (!existing.isDirectory()) {
      throw new Error(`a directory was produced where the real tree has ${existing.isSymbolicLink() ? "a symlink" : "a file"}`)
    }
    const entries = await fs.readdir(src)
    for (const name of entries) {
      await visit(join(rel, name))
      await pace()
    }
  }

  const visitLeaf = async (rel: string, src: string, dst: string, s: BigIntStats): Promise<void> => {
    if (unchanged(rel, s)) return
    const existing = lstatOrNull(dst)
    if (existing !== null && existing.isDirectory()) {
      throw new Error("a file was produced where the real tree has a directory")
    }
    if (s.isFile()) {
      if (existing !== null && existing.dev === s.dev && existing.ino === s.ino) {
        // A hard-linked input edited in place: the real file is this very inode.
        result.inPlace.push(rel)
        return
      }
      // A new file identical by size and mtime to the real one (e.g. `cp -p`) needs no move.
      if (existing !== null && existing.isFile() && !manifest.has(rel) && sameContentStamp(existing, s)) return
      fsSync.mkdirSync(path.dirname(dst), { recursive: true })
      await moveFile(src, dst, s)
      result.moved++
      result.movedBytes += Number(s.size)
      return
    }
    if (s.isSymbolicLink()) {
      fsSync.mkdirSync(path.dirname(dst), { recursive: true })
      replaceWithSymlink(src, dst)
      result.moved++
    }
  }

  const visit = async (rel: string): Promise<void> => {
    const src = rel === "" ? scratch : path.join(scratch, rel)
    const dst = rel === "" ? real : path.join(real, rel)
    try {
      const s = fsSync.lstatSync(src, { bigint: true })
      if (s.isDirectory()) await visitDir(rel, src, dst)
      else await visitLeaf(rel, src, dst, s)
    } catch (error) {
      result.errors.push(`${rel === "" ? "." : rel}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }

  await visit("")
  return result
}

/**
 * Removes a tree. File types come from the directory listing, so each entry
 * costs one syscall (unlink or rmdir), not an lstat first. Directories a
 * pipeline made read-only are unlocked first.
 */
export const removeTree = async (dir: string): Promise<void> => {
  const pace = makePacer()
  const remove = async (d: string): Promise<void> => {
    let entries
    try {
      entries = await fs.readdir(d, { withFileTypes: true })
    } catch (error) {
      if (errnoOf(error) === "ENOENT") return
      if (errnoOf(error) !== "EACCES") throw error
      fsSync.chmodSync(d, 0o700)
      entries = await fs.readdir(d, { withFileTypes: true })
    }
    for (const entry of entries) {
      const p = path.join(d, entry.name)
      if (entry.isDirectory()) await remove(p)
      else {
        try {
          fsSync.unlinkSync(p)
        } catch (error) {
          if (errnoOf(error) === "ENOENT") continue
          if (errnoOf(error) !== "EACCES" && errnoOf(error) !== "EPERM") throw error
          fsSync.chmodSync(d, 0o700)
          fsSync.unlinkSync(p)
        }
      }
      await pace()
    }
    try {
      fsSync.rmdirSync(d)
    } catch (error) {
      if (errnoOf(error) !== "ENOENT") throw error
    }
  }
  await remove(dir)
}

export const runDirPattern = /^run-\d+$/
