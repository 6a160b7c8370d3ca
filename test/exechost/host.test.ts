/**
 * The execution host with real processes: what survives what.
 * - a host SIGKILLed mid-run: its pipelines keep running; one that ends meanwhile has its exit kept by its
 *   monitor and reported by the next host, which adopts the one still running and reports its exit later;
 * - kill ends the whole process group (a background grandchild too);
 * - a time limit ends the run and says so;
 * - a monitor SIGKILLed leaves no exit: the run is Lost and what is left of the pipeline is ended;
 * - one host per data dir (its lock); Start is idempotent by run id; StopAll ends every pipeline.
 */
import { describe, expect, it } from "@effect/vitest"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Duration, Effect, Exit, Scope } from "effect"
import { stopAllPipelines } from "../../kernel/exechost/client.ts"
import { SpawnError } from "../../kernel/ports/executor.ts"
import { holdHostLock } from "../../kernel/exechost/lock.ts"
import {
  clientOf,
  control,
  hostProcess,
  inProcessHost,
  isLive,
  liveMatching,
  specFor,
  tempRoot,
  tryKill,
  waitUntil,
  writeConfig
} from "./support.ts"

const runDir = (dataDir: string, runId: number) => join(dataDir, "exechost", "runs", String(runId))
const monitorPid = (dataDir: string, runId: number) => {
  const file = join(runDir(dataDir, runId), "pids")
  return existsSync(file) ? Number(readFileSync(file, "utf8").split(" ")[0]) : undefined
}

describe("execution host processes", () => {
  it.scopedLive(
    "a host SIGKILLed mid-run: one pipeline keeps running and is adopted, one exits meanwhile and its kept exit is reported",
    () =>
      Effect.gen(function* () {
        const t = yield* tempRoot
        const ctl = control(t)
        const configFile = join(t.root, "config.json")
        yield* writeConfig(t.config, configFile)
        for (const doc of ["doc-201", "doc-202"]) ctl.gate(doc)
        ctl.exitWith("doc-201", 5)
        ctl.exitWith("doc-202", 0)
        const first = yield* Scope.make()
        const host = yield* hostProcess(configFile, t.config.dataDir).pipe(Scope.extend(first))
        yield* Effect.scoped(
          Effect.gen(function* () {
            const client = yield* clientOf(t.config)
            expect((yield* client.start(specFor(t, 201)))._tag).toBe("Running")
            expect((yield* client.start(specFor(t, 202)))._tag).toBe("Running")
          })
        )
        yield* waitUntil("both pipelines to start", () => ctl.pid("doc-201", 1) !== undefined && ctl.pid("doc-202", 1) !== undefined)
        const adopted = ctl.pid("doc-202", 1) ?? 0
        host.kill("SIGKILL")
        yield* waitUntil("the host to die", () => !isLive(host.pid))
        yield* Scope.close(first, Exit.void)
        // While no host runs: 201 ends (its monitor keeps the exit), 202 keeps running.
        ctl.open("doc-201")
        yield* waitUntil("201's exit file", () => existsSync(join(runDir(t.config.dataDir, 201), "exit")))
        expect(JSON.parse(readFileSync(join(runDir(t.config.dataDir, 201), "exit"), "utf8"))).toEqual({ code: 5, signal: null, timedOut: false })
        expect(isLive(adopted)).toBe(true)
        yield* hostProcess(configFile, t.config.dataDir)
        const client = yield* clientOf(t.config)
        expect(yield* client.awaitExit(201).pipe(Effect.timeout("60 seconds"))).toEqual({ _tag: "Exited", exit: { code: 5, signal: null } })
        expect((yield* client.status([202])).get(202)?._tag).toBe("Running")
        expect((yield* client.live).map((r) => r.runId)).toEqual([202])
        expect(isLive(adopted)).toBe(true)
        ctl.open("doc-202")
        expect(yield* client.awaitExit(202).pipe(Effect.timeout("60 seconds"))).toEqual({ _tag: "Exited", exit: { code: 0, signal: null } })
        // Acknowledged: the record is gone.
        yield* client.acknowledge(202)
        expect(existsSync(runDir(t.config.dataDir, 202))).toBe(false)
        expect(existsSync(runDir(t.config.dataDir, 201))).toBe(true)
      }),
    240_000
  )

  it.scopedLive("one host per data dir: the lock is refused while held and free once released", () =>
    Effect.gen(function* () {
      const t = yield* tempRoot
      const held = yield* Scope.make()
      yield* holdHostLock(t.config.dataDir).pipe(Scope.extend(held))
      const second = yield* Effect.flip(Effect.scoped(holdHostLock(t.config.dataDir)))
      expect(second.message).toBe(`another execution host is running for ${t.config.dataDir}`)
      yield* Scope.close(held, Exit.void)
      yield* Effect.scoped(holdHostLock(t.config.dataDir))
    })
  )

  it.scopedLive("kill ends the pipeline's whole process group, its background grandchild too", () =>
    Effect.gen(function* () {
      const t = yield* tempRoot
      const ctl = control(t)
      yield* inProcessHost(t.config)
      const client = yield* clientOf(t.config)
      ctl.gate("doc-203")
      const token = `eh203-${process.pid}-${Date.now()}`
      ctl.fork("doc-203", token)
      yield* client.start(specFor(t, 203))
      yield* waitUntil("the grandchild", () => ctl.grandchildPid("doc-203", 1) !== undefined && liveMatching(`lomi-gc-${token}`).length === 1)
      const pipeline = ctl.pid("doc-203", 1) ?? 0
      yield* client.kill(203, Duration.millis(300))
      expect(isLive(pipeline)).toBe(false)
      expect(liveMatching(`lomi-gc-${token}`)).toEqual([])
      const ended = yield* client.awaitExit(203)
      expect(ended._tag === "Exited" ? ended.exit.signal : "not exited").toBe("SIGTERM")
    })
  )

  it.scopedLive("a pipeline that outlives its service's time limit is ended and failed with a message", () =>
    Effect.gen(function* () {
      const t = yield* tempRoot
      const ctl = control(t)
      const config = {
        ...t.config,
        services: { ...t.config.services, "Epi-Insight": { ...t.config.services["Epi-Insight"], limits: { timeLimitSeconds: 1 } } }
      }
      yield* inProcessHost(config)
      const client = yield* clientOf(config)
      ctl.gate("doc-204")
      yield* client.start(specFor(t, 204))
      const ended = yield* client.awaitExit(204).pipe(Effect.timeout("30 seconds"))
      expect(ended).toEqual({
        _tag: "Exited",
        exit: { code: null, signal: "SIGTERM", errorMessage: "time limit of 1 s exceeded: the run was killed" }
      })
      expect(JSON.parse(readFileSync(join(runDir(t.config.dataDir, 204), "exit"), "utf8")).timedOut).toBe(true)
    })
  )

  it.scopedLive("a monitor SIGKILLed leaves no exit: the run is Lost and its pipeline is ended", () =>
    Effect.gen(function* () {
      const t = yield* tempRoot
      const ctl = control(t)
      yield* inProcessHost(t.config)
      const client = yield* clientOf(t.config)
      ctl.gate("doc-205")
      yield* client.start(specFor(t, 205))
      yield* waitUntil("the pipeline and its monitor", () => ctl.pid("doc-205", 1) !== undefined && monitorPid(t.config.dataDir, 205) !== undefined)
      const pipeline = ctl.pid("doc-205", 1) ?? 0
      tryKill(monitorPid(t.config.dataDir, 205) ?? 0, "SIGKILL")
      const ended = yield* client.awaitExit(205).pipe(Effect.timeout("30 seconds"))
      expect(ended._tag).toBe("Lost")
      expect(isLive(pipeline)).toBe(false)
      expect((yield* client.status([205])).get(205)?._tag).toBe("Lost")
    })
  )

  it.scopedLive("Start repeated for one run id starts one pipeline; StopAll ends every live one", () =>
    Effect.gen(function* () {
      const t = yield* tempRoot
      const ctl = control(t)
      yield* inProcessHost(t.config)
      const client = yield* clientOf(t.config)
      ctl.gate("doc-206")
      ctl.gate("doc-207")
      const [a, b] = yield* Effect.all([client.start(specFor(t, 206)), client.start(specFor(t, 206))], { concurrency: 2 })
      expect(a).toEqual(b)
      yield* client.start(specFor(t, 207))
      yield* waitUntil("both pipelines", () => ctl.pid("doc-206", 1) !== undefined && ctl.pid("doc-207", 1) !== undefined)
      // One monitor for run 206.
      expect(liveMatching(`${runDir(t.config.dataDir, 206)} `).length).toBe(1)
      expect(yield* stopAllPipelines(t.config.dataDir, Duration.millis(300))).toBe(2)
      expect(liveMatching(`${t.root}/bin/pipeline.sh`)).toEqual([])
      expect((yield* client.live).length).toBe(0)
    })
  )

  it.scopedLive("a start that cannot run is refused in one line and leaves nothing behind", () =>
    Effect.gen(function* () {
      const t = yield* tempRoot
      yield* inProcessHost(t.config)
      const client = yield* clientOf(t.config)
      const missing = join(t.root, "bin", "no-such.sh")
      const refused = yield* Effect.flip(client.start({ ...specFor(t, 208), script: missing }))
      expect(refused).toEqual(new SpawnError({ message: `pipeline script not found: ${missing}` }))
      const unsafe = yield* Effect.flip(client.start({ ...specFor(t, 209), patientId: "../etc" }))
      expect(unsafe.message).toBe('patient id is not a safe path segment: "../etc"')
      const statuses = yield* client.status([208, 209])
      expect([...statuses.values()]).toEqual([{ _tag: "Unknown" }, { _tag: "Unknown" }])
      expect(existsSync(runDir(t.config.dataDir, 208))).toBe(false)
    })
  )
})
