/**
 * Run lifecycles beyond the plain outcomes, with real processes: the
 * allocator stopping (in order, or by SIGKILL) under a running pipeline and
 * starting again on the same database (rule 10 as amended: the pipeline
 * belongs to the execution host's monitor, so it survives and is re-adopted,
 * using no attempt), a kill that loses to the pipeline's own exit during the
 * grace period, and a kill of a row that never started (rule 9).
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Scope } from "effect"
import type { StaticConfig } from "../../schemas/config.ts"
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import { CapturedMail } from "../../kernel/mail/capture.ts"
import {
  control,
  dataReady,
  eventually,
  execute,
  FAST,
  integrationConfig,
  isLive,
  liveProcessesMatching,
  memoryPorts,
  plainExecutor,
  quiet,
  recordEvents,
  rowsFor,
  runLog,
  sandboxExecutor,
  scratchRuns,
  startAllocator,
  tempRoot,
  type TestRoot,
  type TunableValues,
  waitForRows,
  waitForState
} from "./support.ts"

const TIMEOUT = 90_000
/** The crash tests' daemon start-up deadline, and their test timeout around it. */
const DAEMON_START_MS = 240_000
const CRASH_TIMEOUT = DAEMON_START_MS + 90_000

const CRASH_CHILD = fileURLToPath(new URL("./crash-child.ts", import.meta.url))
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url))

const EXECUTORS = [
  { name: "plain", sandboxEnabled: 0, executor: (config: StaticConfig, _t: TestRoot) => plainExecutor(config) },
  { name: "sandbox", sandboxEnabled: 1, executor: sandboxExecutor }
] as const

const statusOf = (docId: string) =>
  Effect.flatMap(MemoryFirestore, (fs) => fs.snapshotReports).pipe(
    Effect.map((reports) => reports.find((r) => r.id === docId)?.data.status)
  )

describe.each(EXECUTORS)("stop and restart under a running pipeline ($name executor)", ({ sandboxEnabled, executor }) => {
  it.scopedLive(
    "an orderly stop leaves the pipeline running and its row running; the next start re-adopts it and attempt 1 succeeds, once",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const ctl = control(t)
          const config = integrationConfig(t)
          // Firestore and the mailbox outlive the allocator, as in production.
          const world = yield* Layer.build(memoryPorts())
          const tunables: TunableValues = { ...FAST, SANDBOX_ENABLED: sandboxEnabled, MAX_RETRIES: 3 }
          const boot = (scope: Scope.Scope) =>
            startAllocator({ config, ports: Layer.succeedContext(world), executor: executor(config, t), tunables }).pipe(
              Scope.extend(scope)
            )

          const first = yield* Scope.make()
          const before = yield* boot(first)
          ctl.gate("rec-1")
          yield* before.run(Effect.flatMap(MemoryFirestore, (fs) => fs.setReport("rec-1", dataReady("Epi-Insight"))))
          const running = yield* before.run(waitForState("rec-1", "running"))
          yield* eventually("rec-1 at its gate", Effect.sync(() => runLog(config, running).includes("waiting for rec-1.go")))
          const pipeline = `${t.script} rec-1 `
          expect(liveProcessesMatching(pipeline)).not.toEqual([])

          yield* Scope.close(first, Exit.void)
          // The allocator and its host are gone; the pipeline is not.
          expect(liveProcessesMatching(pipeline)).not.toEqual([])

          const after = yield* boot(yield* Effect.scope)
          yield* eventually(
            "the restarted allocator to follow rec-1",
            after.run(Effect.map(rowsFor("rec-1"), (rows) => rows.length === 1 && rows[0]?.state === "running"))
          )
          ctl.open("rec-1")
          const rows = yield* after.run(waitForRows("rec-1", "the adopted attempt to succeed", (r) => r.at(-1)?.state === "succeeded"))
          expect(rows.map((r) => [r.id, r.attempt, r.state, r.notes])).toEqual([[running.id, 1, "succeeded", null]])
          expect(runLog(config, running)).toContain("pipeline end doc=rec-1 exit=0")
          expect(yield* after.run(statusOf("rec-1"))).toBe("Data Ready")
          yield* eventually("no pipeline left", Effect.sync(() => liveProcessesMatching(pipeline).length === 0))
          yield* eventually("the scratch to be removed", Effect.sync(() => scratchRuns(t).length === 0))
        })
      ),
    TIMEOUT
  )
})

describe("kill edge cases with real processes", () => {
  const start = (t: TestRoot, tunables: TunableValues = {}) => {
    const config = integrationConfig(t)
    return startAllocator({
      config,
      ports: memoryPorts(),
      executor: plainExecutor(config),
      tunables: { ...FAST, SANDBOX_ENABLED: 0, ...tunables }
    })
  }

  it.scopedLive(
    "a pipeline that exits during KILL_GRACE_MS is routed normally and the kill is abandoned",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const ctl = control(t)
          const { config, run } = yield* start(t, { KILL_GRACE_MS: 3000 })
          ctl.gate("race-1")
          yield* run(Effect.flatMap(MemoryFirestore, (fs) => fs.setReport("race-1", dataReady("Omni-Health"))))
          const running = yield* run(waitForState("race-1", "running"))
          yield* eventually("race-1 at its gate", Effect.sync(() => runLog(config, running).includes("waiting for race-1.go")))

          const kill = yield* run(execute({ _tag: "kill", doc: "race-1" })).pipe(Effect.fork)
          ctl.open("race-1")
          const done = yield* run(waitForState("race-1", "succeeded"))
          expect(done.id).toBe(running.id)
          const result = yield* Fiber.join(kill)
          expect(result).toEqual({ ok: false, message: `abandoned: run ${running.id} became succeeded during the grace period` })
          expect(yield* run(statusOf("race-1"))).toBe("Data Ready")
          expect((yield* run(rowsFor("race-1"))).map((r) => r.state)).toEqual(["succeeded"])
        })
      ),
    TIMEOUT
  )

  it.scopedLive(
    "a kill of a queued row ends it Firestore-first and its pipeline never starts",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const ctl = control(t)
          const { config, run } = yield* start(t)
          const events = yield* run(recordEvents)
          ctl.gate("busy-1")
          yield* run(Effect.flatMap(MemoryFirestore, (fs) => fs.setReport("busy-1", dataReady("Epi-Insight"))))
          const busy = yield* run(waitForState("busy-1", "running"))
          yield* run(Effect.flatMap(MemoryFirestore, (fs) => fs.setReport("q-1", dataReady("Omni-Health"))))
          const queued = yield* run(waitForState("q-1", "queued"))

          const result = yield* run(execute({ _tag: "kill", doc: "q-1" }, "alice"))
          expect(result).toEqual({ ok: true, message: `run ${queued.id} killed`, run: queued.id })
          const killed = yield* run(waitForState("q-1", "failed_permanent"))
          expect(killed.error_message).toBe("Killed by alice")
          expect(yield* run(statusOf("q-1"))).toBe("Failed")

          ctl.open("busy-1")
          yield* run(waitForState("busy-1", "succeeded"))
          expect(events.all().filter((e) => e._tag === "spawn").map((e) => (e._tag === "spawn" ? e.run : 0))).toEqual([busy.id])
          expect(runLog(config, killed)).toBe("")
          expect(yield* run(Effect.flatMap(CapturedMail, (m) => m.messages))).toEqual([])
          // A kill of a row that is already terminal is refused at once.
          const again = yield* run(execute({ _tag: "kill", doc: "q-1" }))
          expect(again).toEqual({ ok: false, message: `run ${queued.id} is already failed_permanent` })
        })
      ),
    TIMEOUT
  )
})

/** Starts crash-child.ts on `t` and waits until its pipeline for `docId` is at its gate. */
const crashableDaemon = (t: TestRoot, docId: string, mode: "plain" | "sandbox") =>
  Effect.gen(function* () {
    const { child, exited } = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn(process.execPath, ["--import", "tsx", CRASH_CHILD, t.root, docId, mode], {
          cwd: REPO_ROOT,
          stdio: ["ignore", "pipe", "inherit"]
        })
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
        return { child, exited }
      }),
      ({ child }) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
    )
    let output = ""
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8")
    })
    // The child starts a whole allocator (tsx, SQLite, bwrap): on a busy machine that can take minutes,
    // so the wait is on its own signal with a wide deadline, and ends at once if the child dies first.
    const started = yield* eventually(
      "the daemon's pipeline to be running",
      Effect.sync(() => (output.includes("RUNNING") ? "running" : child.exitCode !== null || child.signalCode !== null ? "exited" : false)),
      { timeoutMs: DAEMON_START_MS }
    )
    if (started === "exited") return yield* Effect.dieMessage(`the daemon exited before its pipeline ran; its output:\n${output}`)
    return { sigkill: Effect.sync(() => child.kill("SIGKILL")).pipe(Effect.zipRight(Effect.promise(() => exited))) }
  })

describe.each(EXECUTORS)("daemon crash (SIGKILL, no finalizers; $name executor)", ({ name, sandboxEnabled, executor }) => {
  it.scopedLive(
    "the pipeline outlives the SIGKILLed daemon and its host; the next start re-adopts it and attempt 1 succeeds, once",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const ctl = control(t)
          ctl.gate("crash-1")
          const daemon = yield* crashableDaemon(t, "crash-1", name)
          const pipeline = `${t.script} crash-1 `
          yield* daemon.sigkill
          expect(liveProcessesMatching(pipeline)).not.toEqual([])

          const config = integrationConfig(t)
          const { run } = yield* startAllocator({
            config,
            ports: memoryPorts(),
            executor: executor(config, t),
            tunables: { ...FAST, SANDBOX_ENABLED: sandboxEnabled, MAX_RETRIES: 3 }
          })
          yield* run(Effect.flatMap(MemoryFirestore, (fs) => fs.setReport("crash-1", dataReady("Epi-Insight"))))
          yield* eventually(
            "the restarted allocator to follow crash-1",
            run(Effect.map(rowsFor("crash-1"), (rows) => rows.length === 1 && rows[0]?.state === "running"))
          )
          ctl.open("crash-1")
          const rows = yield* run(waitForRows("crash-1", "the adopted attempt to succeed", (r) => r.at(-1)?.state === "succeeded"))
          expect(rows.map((r) => [r.attempt, r.state, r.notes])).toEqual([[1, "succeeded", null]])
          // One process ran the attempt, start to end: it was adopted, never started again.
          const log = rows[0] === undefined ? "" : runLog(config, rows[0])
          expect(log.match(/pipeline start doc=crash-1 /g)).toHaveLength(1)
          expect(log).toContain("pipeline end doc=crash-1 exit=0")
          yield* eventually("no pipeline left", Effect.sync(() => liveProcessesMatching(pipeline).length === 0))
          yield* eventually("no scratch left", Effect.sync(() => scratchRuns(t).length === 0))
        })
      ),
    CRASH_TIMEOUT
  )
})
