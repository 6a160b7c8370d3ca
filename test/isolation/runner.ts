/**
 * A small monitor for the isolation suite: runs a Launch the way the
 * execution host does (own process group, stdout+stderr appended to the log,
 * the time limit enforced by SIGKILL to the group) and returns the RawExit.
 * Also the hashing of real trees (type, mode, content, link target per path),
 * so "byte-identical afterwards" is one comparison.
 */
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync } from "node:fs"
import * as path from "node:path"
import type { Launch, RawExit } from "../../kernel/process/launch.ts"

export interface Running {
  readonly pid: number
  readonly exit: Promise<RawExit>
  /** SIGKILL to the whole group (a dashboard kill after its grace). */
  readonly kill: () => void
}

export const startLaunch = (launch: Launch, logFile: string): Running => {
  mkdirSync(path.dirname(logFile), { recursive: true })
  const fd = openSync(logFile, "a")
  const child = spawn(launch.command, [...launch.args], {
    env: launch.env,
    cwd: launch.cwd ?? "/",
    detached: true,
    stdio: ["ignore", fd, fd]
  })
  closeSync(fd)
  const pid = child.pid ?? -1
  let timedOut = false
  const killGroup = () => {
    try {
      process.kill(-pid, "SIGKILL")
    } catch {
      // gone
    }
  }
  const timer =
    launch.timeLimitMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true
          killGroup()
        }, launch.timeLimitMs)
  const exit = new Promise<RawExit>((resolve) => {
    child.once("error", () => resolve({ code: 127, signal: null, timedOut: false }))
    child.once("exit", (code, signal) => {
      if (timer !== undefined) clearTimeout(timer)
      resolve({ code, signal, timedOut })
    })
  })
  return { pid, exit, kill: killGroup }
}

/** A digest of everything under `root` that a commit could change (mtimes excepted). */
export const treeHash = (root: string): string => {
  const hash = createHash("sha256")
  const walk = (dir: string, rel: string) => {
    let names: Array<string>
    try {
      names = readdirSync(dir).sort()
    } catch {
      hash.update(`missing ${rel}\n`)
      return
    }
    for (const name of names) {
      const p = path.join(dir, name)
      const r = rel === "" ? name : `${rel}/${name}`
      const s = lstatSync(p)
      hash.update(`${r}\0${s.mode.toString(8)}\0${s.uid}\0`)
      if (s.isDirectory()) walk(p, r)
      else if (s.isSymbolicLink()) hash.update(`-> ${readlinkSync(p)}\n`)
      else if (s.isFile()) {
        try {
          hash.update(readFileSync(p))
        } catch {
          // chmod 000 as an unprivileged owner: size and mode stand for the content.
          hash.update(`unreadable ${s.size}`)
        }
      }
      hash.update("\n")
    }
  }
  walk(root, "")
  return hash.digest("hex")
}
