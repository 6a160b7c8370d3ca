/**
 * The monitor fork server (spawnMonitor.ts, `lomi-monitor --serve`): monitors
 * it forks look like spawned ones in /proc (so a restarted host adopts them),
 * their exits are reported, and neither the server's death nor its orderly
 * end reaches a running monitor. The server records each monitor
 * (`<runDir>/monitor`) before it answers, and removes discarded dirs in a
 * process of its own without following symlinks out of them.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Scope } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { makeMonitorSpawner, type MonitorSpawn } from "../../kernel/exechost/spawnMonitor.ts"
import { findMonitors, isAlive, startTimeOf } from "../../kernel/exechost/procs.ts"
import { MONITOR } from "./support.ts"

const root = mkdtempSync(join(tmpdir(), "lomi-spawner-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const ppidOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ")[1])

const request = (name: string, script: string, env: Record<string, string> = {}): MonitorSpawn => {
  const runDir = join(root, "runs", name)
  mkdirSync(runDir, { recursive: true })
  return {
    monitorPath: MONITOR,
    runDir,
    logFile: join(runDir, "log"),
    graceMs: 300,
    launch: { command: "bash", args: ["-c", script], env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, cwd: root }
  }
}

const until = async (what: string, check: () => boolean, ms = 30_000) => {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe("monitor fork server", () => {
  it("forks a monitor that /proc shows as `<monitor> <runDir>`, runs the pipeline with its env and cwd, and reports its exit", async () => {
    const scope = Effect.runSync(Scope.make())
    const spawner = await Effect.runPromise(Scope.extend(makeMonitorSpawner(MONITOR), scope))
    const go = join(root, "go-one")
    const m = request("one", `while [ ! -e ${go} ]; do sleep 0.05; done; echo "$GREETING $PWD"; exit 3`, { GREETING: "hello" })
    const { pid, startTime } = await Effect.runPromise(spawner.spawn(m))
    // Recorded by the server before it answered: pid and /proc start time.
    expect(startTime).toBe(startTimeOf(pid))
    expect(readFileSync(join(m.runDir, "monitor"), "utf8")).toBe(`${pid} ${startTimeOf(pid)}\n`)
    let exited = false
    spawner.onExit(pid, () => (exited = true))
    // Its parent is the server, not this process: no fork of this heap.
    expect(ppidOf(pid) === process.pid).toBe(false)
    expect(exited).toBe(false)
    writeFileSync(go, "")
    await until("the exit report", () => exited)
    expect(JSON.parse(readFileSync(join(m.runDir, "exit"), "utf8"))).toEqual({ code: 3, signal: null, timedOut: false })
    expect(readFileSync(m.logFile, "utf8")).toBe(`hello ${root}\n`)
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("with an exit slot, the monitor writes `<token>\\n<exit>` in place into its 512-byte slot (and the exit file beside it); the pipeline never sees the slot's variable", async () => {
    const scope = Effect.runSync(Scope.make())
    const spawner = await Effect.runPromise(Scope.extend(makeMonitorSpawner(MONITOR), scope))
    const slots = join(root, "exits")
    // Three slots of zeros, as the host makes them; slot 1 is this run's, its neighbours stay zero.
    writeFileSync(slots, Buffer.alloc(3 * 512))
    const m = { ...request("slot", `echo "slot var: \${LOMI_MONITOR_EXIT_SLOT:-none}"; exit 6`), exitSlot: { file: slots, index: 1, token: "41@2026-11-29T00:00:00.000Z" } }
    const { pid } = await Effect.runPromise(spawner.spawn(m))
    let exited = false
    spawner.onExit(pid, () => (exited = true))
    await until("the exit report", () => exited)
    const file = readFileSync(slots)
    expect(file.length).toBe(3 * 512)
    const record = '41@2026-11-29T00:00:00.000Z\n{"code":6,"signal":null,"timedOut":false}\n'
    expect(file.subarray(512, 512 + record.length).toString("utf8")).toBe(record)
    expect(file.subarray(512 + record.length, 1024).every((b) => b === 0)).toBe(true)
    expect(file.subarray(0, 512).every((b) => b === 0) && file.subarray(1024).every((b) => b === 0)).toBe(true)
    expect(JSON.parse(readFileSync(join(m.runDir, "exit"), "utf8"))).toEqual({ code: 6, signal: null, timedOut: false })
    expect(readFileSync(m.logFile, "utf8")).toBe("slot var: none\n")
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("a monitor it forked is found by the restart scan; killing the server ends neither it nor its pipeline, and the next start gets a new server", async () => {
    const scope = Effect.runSync(Scope.make())
    const spawner = await Effect.runPromise(Scope.extend(makeMonitorSpawner(MONITOR), scope))
    const go = join(root, "go-two")
    const m = request("two", `while [ ! -e ${go} ]; do sleep 0.05; done`)
    const { pid } = await Effect.runPromise(spawner.spawn(m))
    const found = findMonitors(MONITOR, join(root, "runs")).get(m.runDir)
    expect(found?.pid).toBe(pid)
    expect(found?.startTime).toBe(startTimeOf(pid))
    const server = ppidOf(pid)
    process.kill(server, "SIGKILL")
    await until("the server's end", () => !isAlive(server, ""))
    // The next request starts a new server.
    const next = request("three", "exit 0")
    const { pid: pid2 } = await Effect.runPromise(spawner.spawn(next))
    expect(ppidOf(pid2) === server).toBe(false)
    await until("the second run's exit file", () => existsSync(join(next.runDir, "exit")))
    // The first monitor outlived its server and records its pipeline's end.
    expect(isAlive(pid, "")).toBe(true)
    writeFileSync(go, "")
    await until("the first run's exit file", () => existsSync(join(m.runDir, "exit")))
    expect(JSON.parse(readFileSync(join(m.runDir, "exit"), "utf8"))).toEqual({ code: 0, signal: null, timedOut: false })
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("closing the spawner ends its server (EOF) and leaves a running monitor to finish", async () => {
    const scope = Effect.runSync(Scope.make())
    const spawner = await Effect.runPromise(Scope.extend(makeMonitorSpawner(MONITOR), scope))
    const go = join(root, "go-four")
    const m = request("four", `while [ ! -e ${go} ]; do sleep 0.05; done; exit 7`)
    const { pid } = await Effect.runPromise(spawner.spawn(m))
    const server = ppidOf(pid)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await until("the server's end", () => !isAlive(server, ""))
    expect(isAlive(pid, "")).toBe(true)
    writeFileSync(go, "")
    await until("the exit file", () => existsSync(join(m.runDir, "exit")))
    expect(JSON.parse(readFileSync(join(m.runDir, "exit"), "utf8"))).toEqual({ code: 7, signal: null, timedOut: false })
  })

  it("discarded dirs are removed by the server's remover: nested and unreadable dirs go, a symlink's target outside stays", async () => {
    const scope = Effect.runSync(Scope.make())
    const spawner = await Effect.runPromise(Scope.extend(makeMonitorSpawner(MONITOR), scope))
    const outside = join(root, "outside")
    mkdirSync(outside, { recursive: true })
    writeFileSync(join(outside, "keep"), "kept")
    const dirs = ["released-a", "released-b"].map((name) => join(root, name))
    for (const dir of dirs) {
      mkdirSync(join(dir, "upper", "base", "deep"), { recursive: true })
      writeFileSync(join(dir, "upper", "base", "deep", "file"), "x")
      writeFileSync(join(dir, "plan.json"), "{}")
      symlinkSync(outside, join(dir, "link"))
      // overlayfs leaves its work/work with mode 000
      mkdirSync(join(dir, "work", "work"), { recursive: true })
      chmodSync(join(dir, "work", "work"), 0o000)
    }
    // A monitor first, so the discards go to a running server.
    await Effect.runPromise(spawner.spawn(request("five", "exit 0")))
    for (const dir of dirs) spawner.discard(dir)
    await until("both dirs removed", () => dirs.every((dir) => !existsSync(dir)))
    expect(readFileSync(join(outside, "keep"), "utf8")).toBe("kept")
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })
})
