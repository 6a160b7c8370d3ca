/**
 * Workers with real child processes, in a whole allocator (allocatorLayer)
 * on the in-memory Firestore and the capture mailer, on the live clock.
 * Every scenario runs twice: with the plain executor and with the sandbox
 * (the production selection, ProcessPortLive with SANDBOX_ENABLED=1).
 */
import { randomUUID } from "node:crypto"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
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
  liveGroupMembers,
  liveProcessesMatching,
  memoryPorts,
  notifications,
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
  waitForNotification,
  waitForRows,
  waitForState
} from "./support.ts"

const TIMEOUT = 90_000

const EXECUTORS = [
  { name: "plain", sandboxEnabled: 0, executor: (config: StaticConfig, _t: TestRoot) => plainExecutor(config) },
  { name: "sandbox", sandboxEnabled: 1, executor: sandboxExecutor }
] as const

const statusOf = (docId: string) =>
  Effect.flatMap(MemoryFirestore, (fs) => fs.snapshotReports).pipe(
    Effect.map((reports) => reports.find((r) => r.id === docId)?.data.status)
  )

const arrive = (docId: string, service: string, patientId = "P-1") =>
  Effect.flatMap(MemoryFirestore, (fs) => fs.setReport(docId, dataReady(service, patientId)))

const mails = Effect.flatMap(CapturedMail, (m) => m.messages)

describe.each(EXECUTORS)("workers with real processes ($name executor)", ({ name, sandboxEnabled, executor }) => {
  const start = (t: TestRoot, tunables: TunableValues = {}, edit?: (c: StaticConfig) => StaticConfig) => {
    const config = integrationConfig(t, edit)
    return startAllocator({
      config,
      ports: memoryPorts(),
      executor: executor(config, t),
      tunables: { ...FAST, SANDBOX_ENABLED: sandboxEnabled, ...tunables }
    })
  }

  /** Where the run saw the patient base: the real root in both modes (sandboxed, P's folder in it is its copy-on-write view). */
  const expectedBase = (t: TestRoot, _runId: number) => join(t.root, "base")

  it.scopedLive(
    "exit 0: succeeded, Firestore untouched, no email, and run.log.<attempt> holds the script's output",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const { config, run } = yield* start(t)
          yield* run(arrive("ok-1", "Epi-Insight"))

          const row = yield* run(waitForState("ok-1", "succeeded"))
          expect(row).toMatchObject({ attempt: 1, exit_code: 0, error_message: null, patient_id: "P-1" })
          expect(row.started_at).not.toBeNull()
          expect(row.finished_at).not.toBeNull()
          const log = runLog(config, row)
          expect(log).toContain(`pipeline start doc=ok-1 patient=P-1 service=Epi-Insight attempt=1 run=${row.id}`)
          expect(log).toContain(`base=${expectedBase(t, row.id)} `)
          expect(log).toContain("pipeline end doc=ok-1 exit=0")
          expect(yield* run(statusOf("ok-1"))).toBe("Data Ready")
          expect(yield* run(mails)).toEqual([])
          expect(yield* run(rowsFor("ok-1"))).toHaveLength(1)
        })
      ),
    TIMEOUT
  )

  it.scopedLive(
    "exit 75: temp_failed and a new cooling row at the same attempt, until the inputs are there",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const ctl = control(t)
          const { config, run } = yield* start(t)
          const events = yield* run(recordEvents)
          ctl.exitWith("tf-1", 75)
          yield* run(arrive("tf-1", "Omni-Health"))

          const first = yield* run(waitForRows("tf-1", "a temp_failed row and its follow-up", (rows) => rows[0]?.state === "temp_failed" && rows.length >= 2))
          // The inputs arrive: the next run (1 s later) succeeds.
          ctl.exitWith("tf-1", 0)
          const [tempFailed, followUp] = first
          expect(tempFailed).toMatchObject({ state: "temp_failed", attempt: 1, exit_code: 75 })
          expect(followUp?.attempt).toBe(1)
          // Due TEMP_FAIL_RETRY_DELAY_SECONDS (1 s) after the temp failure was routed.
          const due = Date.parse(followUp?.scheduled_run_at ?? "") - Date.parse(tempFailed?.finished_at ?? "")
          expect(due).toBeGreaterThan(500)
          expect(due).toBeLessThanOrEqual(1000)
          if (tempFailed !== undefined) expect(runLog(config, tempFailed)).toContain("pipeline end doc=tf-1 exit=75")

          const rows = yield* run(waitForState("tf-1", "succeeded"))
          const all = yield* run(rowsFor("tf-1"))
          expect(all.every((r) => r.attempt === 1)).toBe(true)
          expect(all.slice(0, -1).every((r) => r.state === "temp_failed" && r.exit_code === 75)).toBe(true)
          expect(rows.exit_code).toBe(0)
          // Every follow-up was inserted cooling, never queued at once.
          const inserts = events.all().filter((e) => e._tag === "insert" && e.doc === "tf-1")
          expect(inserts.map((e) => (e._tag === "insert" ? [e.state, e.attempt] : []))).toEqual([
            ["queued", 1],
            ...all.slice(1).map(() => ["waiting_cooldown", 1])
          ])
          expect(yield* run(statusOf("tf-1"))).toBe("Data Ready")
          expect(yield* run(mails)).toEqual([])
        })
      ),
    TIMEOUT
  )

  it.scopedLive(
    "failures: retries, then Firestore Failed first, failed_permanent and a permanent_failure email",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const ctl = control(t)
          const { config, run } = yield* start(t, { MAX_RETRIES: 3 })
          const events = yield* run(recordEvents)
          ctl.exitWith("fail-1", 3)
          yield* run(arrive("fail-1", "Epi-Insight"))

          const rows = yield* run(waitForRows("fail-1", "failed_permanent", (r) => r.at(-1)?.state === "failed_permanent"))
          expect(rows.map((r) => [r.attempt, r.state, r.exit_code])).toEqual([
            [1, "failed_retrying", 3],
            [2, "failed_retrying", 3],
            [3, "failed_permanent", 3]
          ])
          expect(rows[0]?.error_message).toBe("pipeline exited with code 3")
          expect(rows[2]?.error_message).toBe("pipeline exited with code 3 (attempt 3 of 3)")
          // Each attempt kept its own log.
          for (const r of rows) expect(runLog(config, r)).toContain(`attempt=${r.attempt} run=${r.id}`)
          expect(yield* run(statusOf("fail-1"))).toBe("Failed")

          // Rule 6: the Failed write is published before the row changes.
          const trace = events.all()
          const write = trace.findIndex((e) => e._tag === "firestore_write" && e.doc === "fail-1" && e.fields.status === "Failed" && e.ok)
          const ended = trace.findIndex((e) => e._tag === "transition" && e.doc === "fail-1" && e.to === "failed_permanent")
          expect(write).toBeGreaterThanOrEqual(0)
          expect(ended).toBeGreaterThan(write)

          const logged = yield* run(waitForNotification("permanent_failure", "fail-1"))
          expect(logged).toMatchObject({ status: "ok", recipients: "ops@lab.test", error: null })
          const sent = yield* run(mails)
          expect(sent).toHaveLength(1)
          expect(sent[0]?.to).toEqual(["ops@lab.test"])
          expect(sent[0]?.subject).toContain("Permanent failure: Epi-Insight order fail-1")
          expect(sent[0]?.text).toContain("Attempt: 3")
          expect(sent[0]?.text).toContain("pipeline end doc=fail-1 exit=3")
          expect(sent[0]?.text).toContain(`http://dash.test:8080/#/doc/fail-1`)
        })
      ),
    TIMEOUT
  )

  it.scopedLive(
    "a missing script fails the attempt with a clear message, and the allocator keeps going",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const missing = join(t.root, "bin", "no-such-runner.sh")
          const { run } = yield* start(t, { MAX_RETRIES: 2 }, (c) => ({
            ...c,
            services: { ...c.services, "Omni-Health": { script: missing, env: {} } }
          }))
          yield* run(arrive("ms-1", "Omni-Health"))

          const rows = yield* run(waitForRows("ms-1", "failed_permanent", (r) => r.at(-1)?.state === "failed_permanent"))
          expect(rows.map((r) => [r.attempt, r.state, r.exit_code])).toEqual([
            [1, "failed_retrying", null],
            [2, "failed_permanent", null]
          ])
          expect(rows[0]?.error_message).toBe(`pipeline script not found: ${missing}`)
          expect(rows[1]?.error_message).toBe(`pipeline script not found: ${missing} (attempt 2 of 2)`)
          expect(yield* run(statusOf("ms-1"))).toBe("Failed")

          // The next document runs as usual.
          yield* run(arrive("ok-2", "Epi-Insight"))
          const ok = yield* run(waitForState("ok-2", "succeeded"))
          expect(ok.exit_code).toBe(0)
        })
      ),
    TIMEOUT
  )

  it.scopedLive(
    "kill of a hanging run: failed_permanent 'Killed by tester', Firestore Failed, no email, process gone",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const ctl = control(t)
          const { config, run } = yield* start(t)
          ctl.gate("hang-1")
          yield* run(arrive("hang-1", "Epi-Insight"))
          const running = yield* run(waitForState("hang-1", "running"))
          yield* eventually("hang-1 at its gate", Effect.sync(() => runLog(config, running).includes("waiting for hang-1.go")))
          const pipeline = `${t.script} hang-1 `
          expect(liveProcessesMatching(pipeline)).not.toHaveLength(0)

          const result = yield* run(execute({ _tag: "kill", doc: "hang-1" }))
          expect(result).toMatchObject({ ok: true, run: running.id })
          const killed = yield* run(waitForState("hang-1", "failed_permanent"))
          expect(killed).toMatchObject({ id: running.id, error_message: "Killed by tester", exit_code: null })
          expect(yield* run(statusOf("hang-1"))).toBe("Failed")
          yield* eventually("no hang-1 process left", Effect.sync(() => liveProcessesMatching(pipeline).length === 0))
          if (name === "plain") {
            const pid = ctl.pid("hang-1", 1)
            expect(pid).toBeDefined()
            expect(isLive(pid ?? 0)).toBe(false)
          }
          yield* eventually("the run's scratch to be removed", Effect.sync(() => scratchRuns(t).length === 0))
          // The killed run's exit changed nothing, and an operator's kill sends no email.
          expect((yield* run(rowsFor("hang-1"))).map((r) => r.state)).toEqual(["failed_permanent"])
          expect(yield* run(mails)).toEqual([])
          expect(yield* run(notifications)).toEqual([])
        })
      ),
    TIMEOUT
  )

  it.scopedLive(
    "kill of a run that forked a grandchild: no process of its group survives",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const ctl = control(t)
          const token = `${name}-${randomUUID()}`
          const { config, run } = yield* start(t)
          ctl.fork("fork-1", token)
          ctl.gate("fork-1")
          yield* run(arrive("fork-1", "Gen-Decoder"))
          const running = yield* run(waitForState("fork-1", "running"))
          yield* eventually("fork-1 at its gate", Effect.sync(() => runLog(config, running).includes("waiting for fork-1.go")))
          const grandchild = `lomi-gc-${token}`
          // The background job forks before it execs into its new name: wait for the name to show.
          yield* eventually("the grandchild under its name", Effect.sync(() => liveProcessesMatching(grandchild).length > 0))
          expect(liveProcessesMatching(grandchild)).toHaveLength(1)
          const pgid = name === "plain" ? ctl.pid("fork-1", 1) : undefined
          if (name === "plain") {
            const gc = ctl.grandchildPid("fork-1", 1)
            expect(pgid).toBeDefined()
            expect(liveGroupMembers(pgid ?? 0)).toEqual(expect.arrayContaining([pgid, gc]))
          }

          expect((yield* run(execute({ _tag: "kill", doc: "fork-1" }))).ok).toBe(true)
          yield* run(waitForState("fork-1", "failed_permanent"))
          // Everything the run started, in the sandbox's pid namespace too, is gone.
          yield* eventually(
            "the whole process group to end",
            Effect.sync(
              () =>
                liveProcessesMatching(grandchild).length === 0 &&
                liveProcessesMatching(`${t.script} fork-1 `).length === 0 &&
                liveProcessesMatching(join(t.root, "scratch", `run-${running.id}`)).length === 0
            )
          )
          if (pgid !== undefined) {
            expect(liveGroupMembers(pgid)).toEqual([])
            const gc = ctl.grandchildPid("fork-1", 1)
            expect(isLive(gc ?? 0)).toBe(false)
          }
        })
      ),
    TIMEOUT
  )
})
