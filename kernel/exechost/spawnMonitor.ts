/**
 * Starting monitors. The host keeps one fork server (`lomi-monitor --serve`,
 * monitor.c) and asks it for each run over a pipe: it forks a monitor from
 * its own small static process, where `child_process.spawn` would fork the
 * host's whole heap and block its event loop while doing so (14-31 ms per
 * spawn measured in issue 12; see test/bench/exechost.bench.ts).
 *
 *   host ──request──▶ server ──fork──▶ monitor (own session) ──posix_spawn──▶ pipeline
 *        ◀─"id pid"──        ◀─SIGCHLD─ "x pid": the monitor has exited
 *
 * Every monitor is detached (its own session), so neither the host's nor the
 * server's death reaches it; the server exits when the host's end of the pipe
 * closes. A monitor looks the same in /proc either way (`<monitor> <runDir>`),
 * so a restarted host adopts it the same way.
 *
 * When the server cannot be started, or dies, a request is served by a
 * direct `spawn` of the monitor instead; a request the server may have
 * forked before dying is first looked for in /proc, so a run never gets two
 * monitors.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process"
import * as path from "node:path"
import { Effect, type Scope } from "effect"
import type { Launch } from "../process/launch.ts"
import { findMonitors } from "./procs.ts"

export interface MonitorSpawn {
  readonly monitorPath: string
  readonly runDir: string
  readonly logFile: string
  readonly graceMs: number
  readonly launch: Launch
}

export interface MonitorSpawner {
  /** The monitor's pid once it runs. */
  readonly spawn: (m: MonitorSpawn) => Effect.Effect<number, Error>
  /** `f` runs once the monitor `pid` (one this spawner started) has exited; at once if it already has. */
  readonly onExit: (pid: number, f: () => void) => void
}

const asError = (error: unknown) => (error instanceof Error ? error : new Error(String(error)))

/** A direct `child_process.spawn` of the monitor (the fallback). */
const spawnDirect = (m: MonitorSpawn, exited: (pid: number) => void): Effect.Effect<number, Error> =>
  Effect.async<number, Error>((resume) => {
    let settled = false
    try {
      const child = spawn(
        m.monitorPath,
        [m.runDir, m.logFile, String(m.launch.timeLimitMs ?? 0), String(m.graceMs), "--", m.launch.command, ...m.launch.args],
        { detached: true, stdio: "ignore", env: m.launch.env, ...(m.launch.cwd === undefined ? {} : { cwd: m.launch.cwd }) }
      )
      child.once("spawn", () => {
        settled = true
        const pid = child.pid ?? 0
        child.once("exit", () => exited(pid))
        resume(Effect.succeed(pid))
      })
      // Kept: an 'error' with no listener would crash the host.
      child.on("error", (error) => {
        if (settled) return
        settled = true
        resume(Effect.fail(error))
      })
    } catch (error) {
      resume(Effect.fail(asError(error)))
    }
  })

/** The request's fields, NUL-terminated (see monitor.c). */
const encode = (id: number, m: MonitorSpawn): string | undefined => {
  const env = Object.entries(m.launch.env).map(([k, v]) => `${k}=${v}`)
  const argv = [m.launch.command, ...m.launch.args]
  const fields = [
    String(id),
    m.runDir,
    m.logFile,
    String(m.launch.timeLimitMs ?? 0),
    String(m.graceMs),
    m.launch.cwd ?? "",
    String(env.length),
    ...env,
    String(argv.length),
    ...argv
  ]
  if (fields.some((f) => f.includes("\0"))) return undefined
  return fields.map((f) => `${f}\0`).join("")
}

interface Server {
  readonly child: ChildProcessWithoutNullStreams
  readonly pending: Map<number, { readonly m: MonitorSpawn; readonly done: (pid: number | Error) => void }>
  alive: boolean
}

export const makeMonitorSpawner = (monitorPath: string): Effect.Effect<MonitorSpawner, never, Scope.Scope> =>
  Effect.gen(function* () {
    const exitWaiters = new Map<number, () => void>()
    // Exits reported before anyone asked (the reply and the exit can arrive in one read): bounded.
    const exitedEarly = new Set<number>()
    const exited = (pid: number) => {
      const f = exitWaiters.get(pid)
      if (f !== undefined) {
        exitWaiters.delete(pid)
        f()
        return
      }
      exitedEarly.add(pid)
      if (exitedEarly.size > 4096) for (const old of exitedEarly) {
        exitedEarly.delete(old)
        if (exitedEarly.size <= 2048) break
      }
    }
    let server: Server | undefined
    let serverBroken = false
    let nextId = 1

    /** A request the dead server may have forked: its monitor, found in /proc by run dir. */
    const orphanOf = (m: MonitorSpawn): number | undefined =>
      findMonitors(monitorPath, path.dirname(m.runDir)).get(m.runDir)?.pid

    const start = (): Server | undefined => {
      if (serverBroken) return undefined
      let child: ChildProcessWithoutNullStreams
      try {
        // The padding reserves the argument area each forked monitor rewrites to its run dir.
        child = spawn(monitorPath, ["--serve", " ".repeat(4096)], { detached: true, stdio: ["pipe", "pipe", "pipe"] })
      } catch {
        serverBroken = true
        return undefined
      }
      // Never what keeps the host's process alive: the server is a helper, ended by EOF.
      child.unref()
      for (const stream of [child.stdin, child.stdout, child.stderr]) {
        if ("unref" in stream && typeof stream.unref === "function") stream.unref()
      }
      const s: Server = { child, pending: new Map(), alive: true }
      let buffered = ""
      child.stdout.setEncoding("utf8")
      child.stdout.on("data", (chunk: string) => {
        buffered += chunk
        let nl = buffered.indexOf("\n")
        while (nl >= 0) {
          const [a, b] = buffered.slice(0, nl).split(" ")
          buffered = buffered.slice(nl + 1)
          nl = buffered.indexOf("\n")
          const n = Number(b)
          if (a === "x") exited(n)
          else {
            const p = s.pending.get(Number(a))
            if (p === undefined) continue
            s.pending.delete(Number(a))
            p.done(n > 0 ? n : new Error(`the monitor server could not fork (errno ${-n})`))
          }
        }
      })
      child.stderr.on("data", () => undefined)
      child.stdin.on("error", () => undefined)
      const died = () => {
        if (!s.alive) return
        s.alive = false
        if (server === s) server = undefined
        for (const [, p] of s.pending) {
          const orphan = orphanOf(p.m)
          if (orphan !== undefined) p.done(orphan)
          else spawnDirect(p.m, exited).pipe(Effect.either, Effect.runPromise).then((r) => p.done(r._tag === "Right" ? r.right : r.left))
        }
        s.pending.clear()
      }
      child.on("error", () => {
        // Never started (ENOENT, EACCES): direct spawns from now on.
        serverBroken = true
        died()
      })
      child.on("exit", died)
      return s
    }

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        // EOF ends the server; its monitors go on.
        server?.child.stdin.end()
      })
    )

    const spawnOne = (m: MonitorSpawn): Effect.Effect<number, Error> =>
      Effect.suspend(() => {
        if (server === undefined || !server.alive) server = start()
        const s = server
        const id = nextId++
        const request = encode(id, m)
        if (s === undefined || request === undefined) return spawnDirect(m, exited)
        return Effect.async<number, Error>((resume) => {
          s.pending.set(id, { m, done: (r) => resume(typeof r === "number" ? Effect.succeed(r) : Effect.fail(r)) })
          s.child.stdin.write(request)
        })
      })

    return {
      spawn: spawnOne,
      onExit: (pid, f) => {
        if (exitedEarly.delete(pid)) f()
        else exitWaiters.set(pid, f)
      }
    }
  })
