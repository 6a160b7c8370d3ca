/**
 * Per-run scratch trees for the sandbox: staging patient data in, bringing
 * outputs back, removing what is left. See README.md in this folder for the
 * trade-offs; in short:
 *
 * - Staging builds a *hard-link farm*: directories are created, regular files
 *   are hard-linked (no bytes copied), symlinks are recreated. Files smaller
 *   than `copyBelowBytes` are copied instead (up to `copyBudgetBytes` per
 *   tree), so the small files a pipeline typically rewrites in place (JSON,
 *   CSV, HTML, counters, earlier outputs) are private to the run. A file that
 *   cannot be linked (other filesystem, fs.protected_hardlinks) is copied.
 * - Every staged entry is recorded in a manifest (inode, size, mtime in ns).
 * - Copy-back walks the scratch tree and moves back only entries that are new
 *   or differ from the manifest, by rename (same filesystem, no bytes moved)
 *   or copy + rename (other filesystem). Files the run did not touch are never
 *   written back, so a concurrent update of the real file is not clobbered.
 *   Deletions inside the sandbox are not propagated.
 */
import { promises as fs, type BigIntStats } from "node:fs"
import * as path from "node:path"

export interface StageLimits {
  /** Regular files smaller than this are copied; larger ones are hard-linked. */
  readonly copyBelowBytes: number
  /** At most this many bytes are copied per tree; beyond it everything is linked. */
  readonly copyBudgetBytes: number
}

/** Every file is copied: used for the private copies of whitelisted repo paths. */
export const copyEverything: StageLimits = {
  copyBelowBytes: Number.POSITIVE_INFINITY,
  copyBudgetBytes: Number.POSITIVE_INFINITY
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

const lstatOrNull = (p: string): Promise<BigIntStats | null> =>
  fs.lstat(p, { bigint: true }).then(
    (s) => s,
    (error: unknown) => {
      if (errnoOf(error) === "ENOENT" || errnoOf(error) === "ENOTDIR") return null
      throw error
    }
  )

/** A counting semaphore for promises: bounds open descriptors however deep the tree. */
const makeLimiter = (limit: number) => {
  let active = 0
  const waiting: Array<() => void> = []
  return async <A>(task: () => Promise<A>): Promise<A> => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve))
    active++
    try {
      return await task()
    } finally {
      active--
      waiting.shift()?.()
    }
  }
}

const leafConcurrency = 32

const join = (rel: string, name: string) => (rel === "" ? name : `${rel}/${name}`)

/** Copies one file, keeping its mode and timestamps. */
export const copyFilePreserving = async (source: string, target: string, stats: BigIntStats): Promise<void> => {
  await fs.copyFile(source, target)
  await fs.utimes(target, Number(stats.atimeNs) / 1e9, Number(stats.mtimeNs) / 1e9)
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
  const limit = makeLimiter(leafConcurrency)

  const record = async (rel: string, staged: string) => {
    const s = await fs.lstat(staged, { bigint: true })
    manifest.set(rel, { ino: s.ino, size: s.size, mtimeNs: s.mtimeNs })
  }

  const stageFile = async (src: string, dst: string, rel: string) => {
    const s = await fs.lstat(src, { bigint: true })
    const size = Number(s.size)
    stats.files++
    if (size < limits.copyBelowBytes && size <= budget) {
      budget -= size
      await copyFilePreserving(src, dst, s)
      stats.copied++
      stats.copiedBytes += size
    } else {
      try {
        await fs.link(src, dst)
        stats.linked++
      } catch (error) {
        const code = errnoOf(error)
        if (code !== "EXDEV" && code !== "EPERM" && code !== "EMLINK" && code !== "EACCES") throw error
        await copyFilePreserving(src, dst, s)
        stats.linkFallbacks++
        stats.copied++
        stats.copiedBytes += size
      }
    }
    await record(rel, dst)
  }

  const walk = async (src: string, dst: string, rel: string): Promise<void> => {
    await fs.mkdir(dst, { recursive: true })
    stats.dirs++
    if (rel !== "") await record(rel, dst)
    let entries
    try {
      entries = await fs.readdir(src, { withFileTypes: true })
    } catch (error) {
      if (errnoOf(error) === "ENOENT") return
      throw error
    }
    await Promise.all(
      entries.map(async (entry) => {
        const s = path.join(src, entry.name)
        const d = path.join(dst, entry.name)
        const r = join(rel, entry.name)
        if (entry.isDirectory()) await walk(s, d, r)
        else if (entry.isFile()) await limit(() => stageFile(s, d, r))
        else if (entry.isSymbolicLink()) {
          await limit(async () => {
            await fs.symlink(await fs.readlink(s), d)
            stats.symlinks++
            await record(r, d)
          })
        }
        // FIFOs, sockets and devices are not patient data: not staged.
      })
    )
  }

  await walk(source, target, "")
  return { manifest, stats }
}

const sameContentStamp = (a: BigIntStats, b: BigIntStats) =>
  a.size === b.size && a.mtimeNs / 1_000_000n === b.mtimeNs / 1_000_000n

let tempCounter = 0

/** Puts `source` (a scratch file) at `target`: rename when possible, else copy + rename. */
const moveFile = async (source: string, target: string, stats: BigIntStats): Promise<void> => {
  try {
    await fs.rename(source, target)
  } catch (error) {
    if (errnoOf(error) !== "EXDEV") throw error
    const temp = `${target}.lomi-copyback-${process.pid}-${tempCounter++}`
    try {
      await copyFilePreserving(source, temp, stats)
      await fs.rename(temp, target)
    } catch (copyError) {
      await fs.rm(temp, { force: true })
      throw copyError
    }
  }
}

const replaceWithSymlink = async (source: string, target: string): Promise<void> => {
  const linkTarget = await fs.readlink(source)
  const temp = `${target}.lomi-copyback-${process.pid}-${tempCounter++}`
  await fs.symlink(linkTarget, temp)
  try {
    await fs.rename(temp, target)
  } catch (error) {
    await fs.rm(temp, { force: true })
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
  const limit = makeLimiter(leafConcurrency)

  const unchanged = (rel: string, s: BigIntStats) => {
    const m = manifest.get(rel)
    return m !== undefined && m.ino === s.ino && m.size === s.size && m.mtimeNs === s.mtimeNs
  }

  const visit = async (rel: string): Promise<void> => {
    const src = rel === "" ? scratch : path.join(scratch, rel)
    const dst = rel === "" ? real : path.join(real, rel)
    try {
      const s = await fs.lstat(src, { bigint: true })
      if (s.isDirectory()) {
        // Checked at every level, so nothing is ever written through a symlink in the real tree.
        // The configured root itself may be a symlink (e.g. onto a data disk): follow that one.
        const existing = rel === "" ? await fs.stat(dst, { bigint: true }).catch(() => null) : await lstatOrNull(dst)
        if (existing === null) {
          await fs.mkdir(dst, { recursive: true })
          if (!manifest.has(rel)) result.newDirs++
        } else if (!existing.isDirectory()) {
          throw new Error(
            `a directory was produced where the real tree has ${existing.isSymbolicLink() ? "a symlink" : "a file"}`
          )
        }
        const entries = await fs.readdir(src)
        await Promise.all(entries.map((name) => visit(join(rel, name))))
        return
      }
      await limit(() => visitLeaf(rel, src, dst, s))
    } catch (error) {
      result.errors.push(`${rel === "" ? "." : rel}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }

  const visitLeaf = async (rel: string, src: string, dst: string, s: BigIntStats): Promise<void> => {
    if (unchanged(rel, s)) return
    const existing = await lstatOrNull(dst)
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
      await fs.mkdir(path.dirname(dst), { recursive: true })
      await moveFile(src, dst, s)
      result.moved++
      result.movedBytes += Number(s.size)
      return
    }
    if (s.isSymbolicLink()) {
      await fs.mkdir(path.dirname(dst), { recursive: true })
      await replaceWithSymlink(src, dst)
      result.moved++
    }
  }

  await visit("")
  return result
}

/** Removes a tree, making directories writable first if a pipeline locked them. */
export const removeTree = async (dir: string): Promise<void> => {
  try {
    await fs.rm(dir, { recursive: true, force: true })
  } catch (error) {
    if (errnoOf(error) !== "EACCES" && errnoOf(error) !== "EPERM") throw error
    const unlock = async (d: string): Promise<void> => {
      await fs.chmod(d, 0o700).catch(() => undefined)
      const entries = await fs.readdir(d, { withFileTypes: true }).catch(() => [])
      for (const entry of entries) if (entry.isDirectory()) await unlock(path.join(d, entry.name))
    }
    await unlock(dir)
    await fs.rm(dir, { recursive: true, force: true })
  }
}

export const runDirPattern = /^run-\d+$/
