/**
 * The restart scan (procs.ts findMonitors): a monitor is found by its command
 * line `<monitor> <runDir>`; its posix_spawn child shows that same command line
 * until it execs, and must not be taken for the monitor (a restarted host would
 * then follow a pid that becomes the pipeline, and call the run lost).
 */
import { spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { findMonitors, startTimeOf } from "../../kernel/exechost/procs.ts"

const root = mkdtempSync(join(tmpdir(), "lomi-procs-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const until = async (what: string, check: () => boolean, ms = 30_000) => {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe("restart scan", () => {
  it("of a monitor and a child with the same command line, the parent is the monitor", async () => {
    const runs = join(root, "runs")
    mkdirSync(runs, { recursive: true })
    const monitor = join(root, "bin", "lomi-monitor")
    // Run as `bash <runDir>` under the monitor's name: its child runs the same way, so both show `<monitor> <runDir>`.
    const runDir = join(runs, "7")
    const childPid = join(root, "child.pid")
    writeFileSync(
      runDir,
      `if [ -z "\${LOMI_CHILD:-}" ]; then (LOMI_CHILD=1 exec -a ${monitor} bash "$0") & echo $! > ${childPid}.tmp; mv ${childPid}.tmp ${childPid}; fi\nsleep 30\n`
    )
    const parent = spawn("bash", [runDir], { argv0: monitor, stdio: "ignore", detached: true })
    try {
      let child = 0
      await until("the child", () => {
        const found = findMonitors(monitor, runs)
        try {
          child = Number(readFileSync(childPid, "utf8"))
        } catch {
          return false
        }
        return child > 0 && found.size > 0 && readFileSync(`/proc/${child}/cmdline`, "utf8").startsWith(monitor)
      })
      expect(findMonitors(monitor, runs).get(runDir)).toEqual({ pid: parent.pid, startTime: startTimeOf(parent.pid ?? 0) })
    } finally {
      // The child (its own bash) and both sleeps end with the group.
      try {
        process.kill(-(parent.pid ?? 0), "SIGKILL")
      } catch {
        // gone
      }
    }
  })
})
