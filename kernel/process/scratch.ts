/**
 * File-tree helpers for the sandbox's run dirs: a private copy of a
 * whitelisted repo path, and removal of a run dir (whatever modes the run
 * left on its files).
 */
import * as fsSync from "node:fs"
import { promises as fs } from "node:fs"
import * as path from "node:path"

const errnoOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined

/**
 * Copies `source` to `target` (a file or a whole directory), keeping modes
 * and timestamps. Symlinks are recreated as they are, never followed;
 * FIFOs, sockets and devices are skipped.
 */
export const copyTree = (source: string, target: string): void => {
  const s = fsSync.lstatSync(source)
  if (s.isSymbolicLink()) {
    fsSync.symlinkSync(fsSync.readlinkSync(source), target)
  } else if (s.isDirectory()) {
    fsSync.mkdirSync(target, { recursive: true })
    for (const name of fsSync.readdirSync(source)) copyTree(path.join(source, name), path.join(target, name))
    fsSync.chmodSync(target, s.mode & 0o7777)
  } else if (s.isFile()) {
    fsSync.copyFileSync(source, target)
    fsSync.chmodSync(target, s.mode & 0o777)
    fsSync.utimesSync(target, s.atime, s.mtime)
  }
}

/** Counts synchronous operations and yields to the event loop every `batch` of them. */
const makePacer = (batch = 128) => {
  let count = 0
  return (): Promise<void> | undefined => {
    if (++count % batch !== 0) return undefined
    return new Promise<void>((resolve) => setImmediate(resolve))
  }
}

/**
 * Removes a tree. File types come from the directory listing, so each entry
 * costs one syscall (unlink or rmdir). Directories a pipeline made
 * unreadable or read-only are unlocked first.
 */
export const removeTree = async (dir: string): Promise<void> => {
  const pace = makePacer()
  const remove = async (d: string): Promise<void> => {
    let entries
    try {
      entries = await fs.readdir(d, { withFileTypes: true })
    } catch (error) {
      if (errnoOf(error) === "ENOENT") return
      if (errnoOf(error) === "ENOTDIR") {
        fsSync.unlinkSync(d)
        return
      }
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
      const code = errnoOf(error)
      if (code === "ENOENT") return
      if (code !== "EACCES" && code !== "EPERM") throw error
      fsSync.chmodSync(path.dirname(d), 0o700)
      fsSync.rmdirSync(d)
    }
  }
  await remove(dir)
}
