/**
 * Removal of a small tree without leaving the event loop. A no-op or
 * committed run leaves a few dozen entries in its run dir; removing them
 * through `removeTree`'s awaited readdirs costs a thread-pool round trip per
 * directory (tens of ms on a loaded machine), where a synchronous pass takes
 * well under a millisecond. A run that left a large tree (discarded changes)
 * exceeds the budget: the caller then finishes with the paced `removeTree`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { removeTree } from "../scratch.ts"

const codeOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : undefined

/** Removes `dir` if it has at most `budget` entries; false (with part of it removed) otherwise. Throws as rmSync does. */
const removeSyncWithin = (dir: string, budget: number): boolean => {
  let left = budget
  const remove = (d: string): boolean => {
    let entries: Array<fs.Dirent>
    try {
      entries = fs.readdirSync(d, { withFileTypes: true })
    } catch (error) {
      const code = codeOf(error)
      if (code === "ENOENT") return true
      if (code === "ENOTDIR") {
        fs.unlinkSync(d)
        return true
      }
      if (code !== "EACCES") throw error
      fs.chmodSync(d, 0o700)
      entries = fs.readdirSync(d, { withFileTypes: true })
    }
    left -= entries.length
    if (left < 0) return false
    for (const entry of entries) {
      const p = path.join(d, entry.name)
      if (entry.isDirectory()) {
        if (!remove(p)) return false
      } else {
        try {
          fs.unlinkSync(p)
        } catch (error) {
          const code = codeOf(error)
          if (code === "ENOENT") continue
          if (code !== "EACCES" && code !== "EPERM") throw error
          fs.chmodSync(d, 0o700)
          fs.unlinkSync(p)
        }
      }
    }
    try {
      fs.rmdirSync(d)
    } catch (error) {
      const code = codeOf(error)
      if (code === "ENOENT") return true
      if (code !== "EACCES" && code !== "EPERM") throw error
      fs.chmodSync(path.dirname(d), 0o700)
      fs.rmdirSync(d)
    }
    return true
  }
  return remove(dir)
}

/** Removes `dir`: synchronously when small (≤ `budget` entries), else through the paced async `removeTree`. */
export const quickRemove = async (dir: string, budget = 256): Promise<void> => {
  if (removeSyncWithin(dir, budget)) return
  await removeTree(dir)
}
