/**
 * Starting one monitor. The host spawns it detached (its own session), so
 * neither the host's nor the kernel's death reaches it; the host stays its
 * parent only until the host exits, and learns of its end by the `exit` event
 * while it is. `child_process.spawn` forks this small process, never the
 * kernel, so its cost does not grow with the kernel's heap.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { Effect } from "effect"
import type { Launch } from "../process/launch.ts"

export interface MonitorSpawn {
  readonly monitorPath: string
  readonly runDir: string
  readonly logFile: string
  readonly graceMs: number
  readonly launch: Launch
}

export const spawnMonitor = (m: MonitorSpawn): Effect.Effect<ChildProcess, Error> =>
  Effect.async<ChildProcess, Error>((resume) => {
    let child: ChildProcess
    try {
      child = spawn(
        m.monitorPath,
        [m.runDir, m.logFile, String(m.launch.timeLimitMs ?? 0), String(m.graceMs), "--", m.launch.command, ...m.launch.args],
        { detached: true, stdio: "ignore", env: m.launch.env, ...(m.launch.cwd === undefined ? {} : { cwd: m.launch.cwd }) }
      )
    } catch (error) {
      resume(Effect.fail(error instanceof Error ? error : new Error(String(error))))
      return
    }
    let settled = false
    child.once("spawn", () => {
      settled = true
      resume(Effect.succeed(child))
    })
    // Kept: an 'error' with no listener would crash the host.
    child.on("error", (error) => {
      if (settled) return
      settled = true
      resume(Effect.fail(error))
    })
  })
