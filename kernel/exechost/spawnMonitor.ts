/**
 * Starting monitors. The host keeps one fork server (`lomi-monitor --serve`,
 * monitor.c) and asks it for each run over a pipe: it forks a monitor from
 * its own small static process, where `child_process.spawn` would fork the
 * host's whole heap and block its event loop while doing so (14-31 ms per
 * spawn measured in issue 12; see test/bench/exechost.bench.ts).
 *
 *   host ──request──▶ server ──fork──▶ monitor (own session) ──posix_spawn──▶ pipeline
 *        ◀─"id pid start"─   (after writing <runDir>/monitor)
 *        ◀─"e pid"── from the monitor itself: its exit is durable (the monitor's last act)
 *        ◀─"x pid"──         ◀─SIGCHLD─ a monitor that did not say "e" has exited (killed, or no record)
 *   host ──"rm" dirs──▶ server ──fork──▶ remover (niced): released dirs removed off the host's event loop
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
import * as fs from "node:fs"
import { Duration, Effect, type Scope } from "effect"
import type { Launch } from "../process/launch.ts"
import { findMonitors, startTimeOf } from "./procs.ts"

export interface MonitorSpawn {
  readonly monitorPath: string
  readonly runDir: string
  readonly logFile: string
  readonly graceMs: number
  readonly launch: Launch
  /** Where the monitor records the exit durably (exitSlots.ts); without it, in a synced exit file. */
  readonly exitSlot?: { readonly file: string; readonly index: number; readonly token: string } | undefined
}

/** How the monitor learns its exit slot: an environment variable it takes out before the pipeline starts (monitor.c). */
const SLOT_VAR = "LOMI_MONITOR_EXIT_SLOT"
const slotValue = (slot: NonNullable<MonitorSpawn["exitSlot"]>) => `${slot.index} ${slot.token} ${slot.file}`

/** The monitor's environment: the pipeline's, and its exit slot. */
const monitorEnv = (m: MonitorSpawn): Readonly<Record<string, string>> =>
  m.exitSlot === undefined ? m.launch.env : { ...m.launch.env, [SLOT_VAR]: slotValue(m.exitSlot) }

/** A started monitor: its pid and start time (/proc field 22), already recorded in `<runDir>/monitor`. */
export interface StartedMonitor {
  readonly pid: number
  readonly startTime: string
}

export interface MonitorSpawner {
  /** The monitor once it runs, its `monitor` record written. */
  readonly spawn: (m: MonitorSpawn) => Effect.Effect<StartedMonitor, Error>
  /** `f` runs once the monitor `pid` (one this spawner started) has exited; at once if it already has. */
  readonly onExit: (pid: number, f: () => void) => void
  /**
   * Removes directories nobody reads any more (renamed out of the way by the caller), beside the host:
   * batched and handed to the server's remover, or removed here when there is no server. Best effort:
   * what a crash leaves is the caller's to sweep at its next start.
   */
  readonly discard: (dir: string) => void
}

const asError = (error: unknown) => (error instanceof Error ? error : new Error(String(error)))

/** `<runDir>/monitor` as the server writes it: "pid startTime". */
const recordMonitor = (runDir: string, pid: number): StartedMonitor => {
  const startTime = startTimeOf(pid)
  try {
    fs.writeFileSync(`${runDir}/monitor`, `${pid} ${startTime}\n`)
  } catch {
    // The monitor's own `pids` and the /proc scan still find it.
  }
  return { pid, startTime }
}

/** How long released dirs wait to be removed together: one remover for a burst, not one per run. */
const DISCARD_EVERY = Duration.millis(250)

/** A direct `child_process.spawn` of the monitor (the fallback). */
const spawnDirect = (m: MonitorSpawn, exited: (pid: number) => void): Effect.Effect<StartedMonitor, Error> =>
  Effect.async<StartedMonitor, Error>((resume) => {
    let settled = false
    try {
      const child = spawn(
        m.monitorPath,
        [m.runDir, m.logFile, String(m.launch.timeLimitMs ?? 0), String(m.graceMs), "--", m.launch.command, ...m.launch.args],
        { detached: true, stdio: "ignore", env: monitorEnv(m), ...(m.launch.cwd === undefined ? {} : { cwd: m.launch.cwd }) }
      )
      child.once("spawn", () => {
        settled = true
        const pid = child.pid ?? 0
        child.once("exit", () => exited(pid))
        resume(Effect.succeed(recordMonitor(m.runDir, pid)))
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

/**
 * The request's fields, NUL-terminated (see monitor.c); undefined when a field holds a NUL. Built as one
 * string in one pass: a request is ~100 fields (the environment), on every Start.
 */
const encode = (id: number, m: MonitorSpawn): string | undefined => {
  const env = m.launch.env
  let count = 0
  let text = ""
  for (const key in env) {
    if (key === SLOT_VAR) continue
    text += `${key}=${env[key] ?? ""}\0`
    count++
  }
  if (m.exitSlot !== undefined) {
    text += `${SLOT_VAR}=${slotValue(m.exitSlot)}\0`
    count++
  }
  const head = `${id}\0${m.runDir}\0${m.logFile}\0${m.launch.timeLimitMs ?? 0}\0${m.graceMs}\0${m.launch.cwd ?? ""}\0${count}\0`
  text = `${head}${text}${m.launch.args.length + 1}\0${m.launch.command}\0`
  for (const arg of m.launch.args) text += `${arg}\0`
  // Every field ends in one NUL: any more means a field held one.
  let nuls = 0
  for (let at = text.indexOf("\0"); at >= 0; at = text.indexOf("\0", at + 1)) nuls++
  return nuls === 7 + count + 1 + 1 + m.launch.args.length ? text : undefined
}

interface Server {
  readonly child: ChildProcessWithoutNullStreams
  readonly pending: Map<number, { readonly m: MonitorSpawn; readonly done: (started: StartedMonitor | Error) => void }>
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
          const [a, b, c] = buffered.slice(0, nl).split(" ")
          buffered = buffered.slice(nl + 1)
          nl = buffered.indexOf("\n")
          const n = Number(b)
          // One of the two per monitor: the server reaps a monitor that said "e" without saying "x".
          if (a === "e" || a === "x") {
            exited(n)
          } else {
            const p = s.pending.get(Number(a))
            if (p === undefined) continue
            s.pending.delete(Number(a))
            if (n <= 0) p.done(new Error(`the monitor server could not fork (errno ${-n})`))
            // An older server answers without the start time and without the record: both done here.
            else p.done(c === undefined ? recordMonitor(p.m.runDir, n) : { pid: n, startTime: c })
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
          if (orphan !== undefined) p.done(recordMonitor(p.m.runDir, orphan))
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

    const spawnOne = (m: MonitorSpawn): Effect.Effect<StartedMonitor, Error> =>
      Effect.suspend(() => {
        if (server === undefined || !server.alive) server = start()
        const s = server
        const id = nextId++
        const request = encode(id, m)
        if (s === undefined || request === undefined) return spawnDirect(m, exited)
        return Effect.async<StartedMonitor, Error>((resume) => {
          s.pending.set(id, { m, done: (r) => resume(r instanceof Error ? Effect.fail(r) : Effect.succeed(r)) })
          s.child.stdin.write(request)
        })
      })

    let toDiscard: Array<string> = []
    const removeHere = (dirs: ReadonlyArray<string>) => {
      for (const dir of dirs) {
        try {
          fs.rmSync(dir, { recursive: true, force: true })
        } catch {
          // Left for the next start's sweep.
        }
      }
    }
    const flushDiscards = () => {
      if (toDiscard.length === 0) return
      const dirs = toDiscard.filter((d) => !d.includes("\0"))
      toDiscard = []
      if (dirs.length === 0) return
      if (server === undefined || !server.alive) server = start()
      const s = server
      if (s === undefined) return removeHere(dirs)
      s.child.stdin.write(["rm", String(dirs.length), ...dirs].map((f) => `${f}\0`).join(""))
    }

    // One sweep on the Clock hands what accumulated to the remover; the last batch goes at close.
    yield* Effect.addFinalizer(() => Effect.sync(flushDiscards))
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(DISCARD_EVERY), Effect.sync(flushDiscards))))

    return {
      spawn: spawnOne,
      discard: (dir) => {
        toDiscard.push(dir)
      },
      onExit: (pid, f) => {
        if (exitedEarly.delete(pid)) f()
        else exitWaiters.set(pid, f)
      }
    }
  })
