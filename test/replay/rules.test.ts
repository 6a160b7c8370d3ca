/**
 * One test per rule of store.md, each on the real actors and a real SQLite
 * file, driven by the replay fixtures on the test clock. The goldens pin every
 * byte; these tests state what each rule demands, so a golden regenerated
 * with a bug in it still fails here.
 */
import { beforeAll, describe, expect, it } from "vitest"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import type { ReplayResult } from "../../kernel/replay/driver.ts"
import { REPLAY_DIR } from "../../kernel/replay/fixtures.ts"
import { runReplay, runsOf } from "../support/replay.ts"

const results = new Map<string, ReplayResult>()
const replayed = (name: string) => {
  const result = results.get(name)
  if (result === undefined) throw new Error(`fixture ${name} was not replayed`)
  return result
}
const index = (r: ReplayResult, predicate: (e: Readonly<Record<string, unknown>>) => boolean) => r.trace.findIndex(predicate)
const events = (r: ReplayResult, kind: string) => r.trace.filter((e) => e.kind === kind)

const FIXTURES = [
  "arrival-epi-insight",
  "gen-decoder-cooldown",
  "dedup-under-replay",
  "retries-then-success",
  "temp-fail-loop",
  "exhaustion-firestore-first",
  "failed-sync",
  "withdrawal",
  "kill",
  "crash-recovery",
  "outage",
  "retention-tokyo",
  "manual-hold",
  "release-refused-when-data-ready",
  "mark-failed-then-retry",
  "skip",
  "tunables",
  "workers-sandbox",
  "workers-no-sandbox",
  "invalid-report",
  "restart-readopt",
  "restart-exits-while-down",
  "restart-never-started",
  "restart-kill-adopted",
  "restart-fewer-workers",
  "kill-last-attempt"
]

beforeAll(async () => {
  for (const name of FIXTURES) {
    results.set(name, await runReplay(JSON.parse(readFileSync(join(REPLAY_DIR, `${name}.json`), "utf8"))))
  }
}, 300_000)

describe("store.md rules on replayed histories", () => {
  it("rule 1/3: a managed non-Gen-Decoder report is queued at once; an unmanaged one gets no row", () => {
    const r = replayed("arrival-epi-insight")
    expect(events(r, "insert")).toEqual([expect.objectContaining({ doc: "e1", state: "queued", attempt: 1 })])
    expect(runsOf(r).map((x) => x.doc_id)).toEqual(["e1"])
  })

  it("rule 3: Gen-Decoder cools COOLDOWN_SECONDS with an upload reminder, then runs", () => {
    const r = replayed("gen-decoder-cooldown")
    const [run] = runsOf(r, "after-cooldown")
    expect(run?.scheduled_run_at).toBe("2026-01-06T00:00:00.000Z")
    expect(r.snapshots.final?.emails).toEqual([{ template: "upload_reminder", doc: "r1", status: "ok" }])
    expect(runsOf(r).map((x) => x.state)).toEqual(["succeeded"])
  })

  it("rule 3: a managed report that cannot run is failed Firestore first, with a reason, and never spawns", () => {
    const r = replayed("invalid-report")
    expect(events(r, "spawn")).toEqual([])
    for (const doc of ["n1", "n2", "n3"]) {
      const write = index(r, (e) => e.kind === "firestore_write" && e.doc === doc)
      const fail = index(r, (e) => e.kind === "transition" && e.doc === doc && e.to === "failed_permanent")
      expect(write).toBeGreaterThanOrEqual(0)
      expect(write).toBeLessThan(fail)
    }
    expect(runsOf(r).map((x) => x.error_message)).toEqual([
      "report has no patientId",
      'patientId "../etc" is not a safe path segment',
      "report field patientId: Expected string, actual 42"
    ])
  })

  it("rule 2: replayed ADDEDs are absorbed while the newest row blocks, and only one row is active", () => {
    const r = replayed("dedup-under-replay")
    expect(events(r, "dedup").length).toBe(6)
    expect(runsOf(r).length).toBe(3)
  })

  it("rule 5: failures retry at attempt + 1 after RETRY_DELAY_SECONDS", () => {
    const r = replayed("retries-then-success")
    expect(runsOf(r).map((x) => [x.attempt, x.state])).toEqual([
      [1, "failed_retrying"],
      [2, "failed_retrying"],
      [3, "succeeded"]
    ])
    expect(runsOf(r)[1]?.scheduled_run_at).toBe("2026-01-05T00:40:00.000Z")
  })

  it("rule 5: temp fail repeats the same attempt after TEMP_FAIL_RETRY_DELAY_SECONDS, beyond MAX_RETRIES", () => {
    const r = replayed("temp-fail-loop")
    expect(runsOf(r).map((x) => [x.attempt, x.state])).toEqual([
      [1, "temp_failed"],
      [1, "temp_failed"],
      [1, "temp_failed"],
      [1, "succeeded"]
    ])
  })

  it("rules 5-6: exhaustion writes Firestore Failed, then failed_permanent, then emails", () => {
    const r = replayed("exhaustion-firestore-first")
    const write = index(r, (e) => e.kind === "firestore_write" && e.ok === true)
    const fail = index(r, (e) => e.kind === "transition" && e.to === "failed_permanent")
    const mail = index(r, (e) => e.kind === "email" && e.template === "permanent_failure")
    expect(write).toBeGreaterThanOrEqual(0)
    expect(write).toBeLessThan(fail)
    expect(fail).toBeLessThan(mail)
    expect(r.snapshots.final?.firestore).toMatchObject({ e1: { status: "Failed" } })
    expect(runsOf(r).at(-1)?.exit_code).toBe(9)
  })

  it("rule 7: a failed write with Firestore reachable gives failed_sync, a sync_retry row due in 24h, and an email", () => {
    const r = replayed("failed-sync")
    const [synced, retry] = runsOf(r, "sync-pending")
    expect(synced?.state).toBe("failed_sync")
    expect(String(synced?.error_message)).toContain("[FIRESTORE_SYNC_FAILED]")
    expect(retry).toMatchObject({ state: "waiting_cooldown", attempt: 1, notes: "sync_retry", scheduled_run_at: "2026-01-06T00:05:00.000Z" })
    expect(r.snapshots["sync-pending"]?.emails).toEqual([{ template: "permanent_failure", doc: "e1", status: "ok" }])
    expect(events(r, "outage")).toEqual([])
  })

  it("rule 8: withdrawal never writes Firestore or emails, and leaves a running row alone", () => {
    const r = replayed("withdrawal")
    expect(events(r, "firestore_write")).toEqual([])
    expect(events(r, "email").map((e) => e.template)).toEqual(["upload_reminder", "upload_reminder"])
    expect(runsOf(r).map((x) => [x.doc_id, x.state, x.error_message])).toEqual([
      ["e1", "succeeded", null],
      ["g1", "failed_permanent", "Withdrawn from Firestore"],
      ["g2", "failed_permanent", "Withdrawn from Firestore"]
    ])
  })

  it("rule 9: kill waits the grace, writes Firestore first, stops the process, sends no email; terminal kills are refused", () => {
    const r = replayed("kill")
    const commands = events(r, "command")
    expect(commands.map((c) => c.ok)).toEqual([true, false, false, false, true])
    expect(commands[0]?.at).toBe("2026-01-05T00:10:01.500Z")
    expect(String(commands[1]?.reason)).toContain("already failed_permanent")
    expect(String(commands[2]?.reason)).toContain("abandoned")
    expect(String(commands[3]?.reason)).toContain("unknown run 42")
    const write = index(r, (e) => e.kind === "firestore_write" && e.doc === "e1")
    const fail = index(r, (e) => e.kind === "transition" && e.doc === "e1" && e.to === "failed_permanent")
    const exit = index(r, (e) => e.kind === "exit" && e.run === 1)
    expect(write).toBeLessThan(fail)
    expect(fail).toBeLessThan(exit)
    expect(r.trace[exit]?.code).toBeNull()
    expect(events(r, "email").filter((e) => e.template === "permanent_failure")).toEqual([])
    expect(runsOf(r).find((x) => x.doc_id === "e2")?.state).toBe("succeeded")
  })

  it("rule 10: recovery requeues a stranded run below MAX_RETRIES and fails the one at it, Firestore first", () => {
    const r = replayed("crash-recovery")
    const before = runsOf(r, "before-crash").filter((x) => x.state === "running").map((x) => x.id)
    expect(before.length).toBe(2)
    const runs = runsOf(r)
    expect(runs.find((x) => x.notes === "recovered")).toMatchObject({ doc_id: "e1", attempt: 2, state: "succeeded" })
    expect(runs.find((x) => x.doc_id === "e2" && x.attempt === 2)?.state).toBe("failed_permanent")
    expect(r.snapshots.final?.firestore).toMatchObject({ e2: { status: "Failed" } })
    expect(runs.find((x) => x.doc_id === "g1")?.scheduled_run_at).toBe("2026-01-06T00:00:00.000Z")
  })

  it("rule 10, crash: a running pipeline the machine took is a crash victim, with the executor's reason", () => {
    const r = replayed("crash-recovery")
    expect(runsOf(r).map((x) => [x.id, x.doc_id, x.attempt, x.state, x.notes, x.error_message])).toEqual([
      [1, "e1", 1, "failed_retrying", null, "the machine stopped while the pipeline was running; no exit status was recorded"],
      [2, "e2", 1, "failed_retrying", null, "pipeline exited with code 1"],
      [3, "g1", 1, "waiting_cooldown", null, null],
      [4, "e2", 2, "failed_permanent", null, "the machine stopped while the pipeline was running; no exit status was recorded (attempt 2 of 2)"],
      [5, "e1", 2, "succeeded", "recovered", null]
    ])
  })

  it("rule 10, allocator restart: a running pipeline is re-adopted, succeeds at attempt 1, and holds its worker slot", () => {
    const r = replayed("restart-readopt")
    const table = [
      [1, "a1", 1, "running", null],
      [2, "a2", 1, "queued", null]
    ]
    expect(runsOf(r, "after-restart").map((x) => [x.id, x.doc_id, x.attempt, x.state, x.notes])).toEqual(table)
    expect(runsOf(r, "after-second-restart").map((x) => [x.id, x.doc_id, x.attempt, x.state, x.notes])).toEqual(table)
    expect(runsOf(r).map((x) => [x.id, x.doc_id, x.attempt, x.state, x.exit_code, x.finished_at])).toEqual([
      [1, "a1", 1, "succeeded", 0, "2026-01-05T00:30:00.000Z"],
      [2, "a2", 1, "succeeded", 0, "2026-01-05T00:35:00.000Z"]
    ])
    expect(events(r, "spawn").map((e) => [e.at, e.run])).toEqual([
      ["2026-01-05T00:00:00.000Z", 1],
      ["2026-01-05T00:30:00.000Z", 2]
    ])
  })

  it("rule 10, allocator restart: exits recorded while it was down are routed by rule 5 when it returns; commands meanwhile are refused", () => {
    const r = replayed("restart-exits-while-down")
    expect(runsOf(r, "while-down").map((x) => [x.id, x.doc_id, x.attempt, x.state])).toEqual([
      [1, "x0", 1, "running"],
      [2, "x1", 1, "running"],
      [3, "x2", 1, "running"],
      [4, "x3", 1, "failed_retrying"],
      [5, "x4", 1, "running"],
      [6, "x3", 2, "running"]
    ])
    expect(runsOf(r).map((x) => [x.id, x.doc_id, x.attempt, x.state, x.exit_code, x.error_message, x.notes])).toEqual([
      [1, "x0", 1, "succeeded", 0, null, null],
      [2, "x1", 1, "failed_retrying", 1, "pipeline exited with code 1", null],
      [3, "x2", 1, "temp_failed", 75, "inputs not there yet", null],
      [4, "x3", 1, "failed_retrying", 1, "pipeline exited with code 1", null],
      [5, "x4", 1, "failed_retrying", 0, "sandbox commit refused: link to /etc/passwd", null],
      [6, "x3", 2, "failed_permanent", 9, "pipeline exited with code 9 (attempt 2 of 2)", null],
      [7, "x1", 2, "succeeded", 0, null, null],
      [8, "x2", 1, "succeeded", 0, null, null],
      [9, "x4", 2, "succeeded", 0, null, null],
      [10, "y1", 1, "succeeded", 0, null, null]
    ])
    // Nothing is routed before the allocator is back at 01:10.
    expect(r.trace.filter((e) => e.at > "2026-01-05T00:02:00.000Z" && e.at < "2026-01-05T01:10:00.000Z")).toEqual([
      { at: "2026-01-05T00:30:00.000Z", kind: "command", name: "kill", ok: false, reason: "the allocator is not reachable (it is restarting)" }
    ])
    const write = index(r, (e) => e.kind === "firestore_write" && e.doc === "x3")
    const fail = index(r, (e) => e.kind === "transition" && e.run === 6 && e.to === "failed_permanent")
    const mail = index(r, (e) => e.kind === "email" && e.doc === "x3")
    expect(r.trace[write]?.at).toBe("2026-01-05T01:10:00.000Z")
    expect(write).toBeLessThan(fail)
    expect(fail).toBeLessThan(mail)
    expect(r.snapshots.final?.firestore).toMatchObject({ x0: { status: "Data Ready" }, x3: { status: "Failed" } })
    expect(events(r, "insert").find((e) => e.doc === "y1")?.at).toBe("2026-01-05T01:10:00.000Z")
  })

  it("rule 10, allocator restart: a row whose pipeline never started goes back to queued at the same attempt", () => {
    const r = replayed("restart-never-started")
    expect(runsOf(r, "claimed-not-started").map((x) => [x.id, x.attempt, x.state, x.notes])).toEqual([[1, 1, "running", null]])
    expect(events(r, "transition").map((e) => [e.at, e.run, e.attempt, e.from, e.to])).toEqual([
      ["2026-01-05T00:01:00.000Z", 1, 1, "queued", "running"],
      ["2026-01-05T00:15:00.000Z", 1, 1, "running", "queued"],
      ["2026-01-05T00:15:00.000Z", 1, 1, "queued", "running"],
      ["2026-01-05T00:16:00.000Z", 1, 1, "running", "succeeded"]
    ])
    expect(events(r, "spawn").map((e) => e.at)).toEqual(["2026-01-05T00:15:00.000Z"])
    expect(runsOf(r).map((x) => [x.id, x.attempt, x.state, x.notes])).toEqual([[1, 1, "succeeded", "recovered"]])
  })

  it("rules 6 and 9: the exit of a killed last attempt writes no second Failed and sends no email", () => {
    const r = replayed("kill-last-attempt")
    expect(events(r, "command").map((c) => c.ok)).toEqual([true])
    expect(events(r, "exit").map((e) => [e.run, e.code])).toEqual([[1, null]])
    expect(events(r, "firestore_write").map((e) => e.doc)).toEqual(["e1"])
    expect(events(r, "email")).toEqual([])
    expect(runsOf(r).map((x) => [x.id, x.attempt, x.state, x.error_message])).toEqual([[1, 1, "failed_permanent", "Killed by replay"]])
  })

  it("rule 10, allocator restart with MAX_WORKERS lowered: the runs adopted beyond it finish, then one runs at a time", () => {
    const r = replayed("restart-fewer-workers")
    const running = (snapshot: string) => runsOf(r, snapshot).filter((x) => x.state === "running").map((x) => x.doc_id)
    expect(running("after-restart")).toEqual(["w1", "w2", "w3"])
    expect(running("after-adopted")).toEqual(["w4"])
    expect(runsOf(r).map((x) => [x.doc_id, x.attempt, x.state])).toEqual([
      ["w1", 1, "succeeded"],
      ["w2", 1, "succeeded"],
      ["w3", 1, "succeeded"],
      ["w4", 1, "succeeded"],
      ["w5", 1, "succeeded"]
    ])
    // w5 started only once w4 had ended: never two at once after the restart.
    const spawnOf = (doc: string) => events(r, "spawn").find((e) => e.doc === doc)?.at
    const endOf = (doc: string) => events(r, "transition").find((e) => e.doc === doc && e.to === "succeeded")?.at
    expect([spawnOf("w4"), endOf("w4"), spawnOf("w5")]).toEqual([
      "2026-01-05T00:30:00.000Z",
      "2026-01-05T00:40:00.000Z",
      "2026-01-05T00:40:00.000Z"
    ])
  })

  it("rules 9-10: a kill is refused while the allocator is down, and kills a re-adopted pipeline once it is back", () => {
    const r = replayed("restart-kill-adopted")
    expect(events(r, "command").map((c) => [c.at, c.ok, c.reason])).toEqual([
      ["2026-01-05T00:12:00.000Z", false, "the allocator is not reachable (it is restarting)"],
      ["2026-01-05T00:20:01.500Z", true, undefined]
    ])
    const write = index(r, (e) => e.kind === "firestore_write" && e.doc === "k1")
    const fail = index(r, (e) => e.kind === "transition" && e.to === "failed_permanent")
    const exit = index(r, (e) => e.kind === "exit")
    expect(write).toBeLessThan(fail)
    expect(fail).toBeLessThan(exit)
    expect(r.trace[exit]).toMatchObject({ run: 1, code: null })
    expect(runsOf(r).map((x) => [x.attempt, x.state, x.error_message])).toEqual([[1, "failed_permanent", "Killed by replay"]])
  })

  it("rule 12: an outage starts nothing new, holds the Failed write with the row running, and resumes", () => {
    const r = replayed("outage")
    const down = index(r, (e) => e.kind === "outage" && e.down === true)
    const up = index(r, (e) => e.kind === "outage" && e.down === false)
    expect(down).toBeGreaterThan(0)
    expect(up).toBeGreaterThan(down)
    expect(r.trace.slice(down, up).filter((e) => e.kind === "spawn")).toEqual([])
    expect(runsOf(r, "during-outage").map((x) => x.state)).toEqual(["running"])
    const fail = index(r, (e) => e.kind === "transition" && e.to === "failed_permanent")
    expect(fail).toBeGreaterThan(up)
    expect(runsOf(r).map((x) => [x.doc_id, x.state])).toEqual([
      ["e1", "failed_permanent"],
      ["e2", "succeeded"]
    ])
  })

  it("rule 13: cleanup at 03:00 in the configured zone removes expired terminal rows only", () => {
    const r = replayed("retention-tokyo")
    expect(events(r, "cleanup").map((e) => e.at)).toEqual([
      "2026-01-05T18:00:00.000Z",
      "2026-01-06T18:00:00.000Z",
      "2026-01-07T18:00:00.000Z"
    ])
    expect(runsOf(r, "day-1").map((x) => x.state)).toContain("succeeded")
    expect(runsOf(r, "day-2").map((x) => [x.doc_id, x.state])).toEqual([["g2", "waiting_cooldown"]])
    expect(r.snapshots["day-2"]?.holds).toEqual([{ doc_id: "h1", state: "holding" }])
  })

  it("rule 11: manual add refuses what it must, release skips the cooldown and the reminder, cancel ends a hold", () => {
    const r = replayed("manual-hold")
    const refusals = events(r, "command").filter((c) => c.ok === false).map((c) => String(c.reason))
    expect(refusals).toEqual([
      "report h1 is already on hold",
      "report h2 is already Data Ready",
      'service "Hair-Analysis" is not managed here',
      "patient P404 has no patients document",
      "report h5 has no hold"
    ])
    expect(runsOf(r).find((x) => x.doc_id === "h1")).toMatchObject({ notes: "manual_release", attempt: 1, state: "succeeded" })
    expect(events(r, "email").filter((e) => e.doc === "h1").map((e) => e.template)).toEqual(["manual_add"])
    expect(r.snapshots.final?.firestore).toMatchObject({ h1: { status: "Data Ready", manualHoldRelease: true } })
  })

  it("rule 11: release refuses and keeps the hold when the report is already Data Ready", () => {
    const r = replayed("release-refused-when-data-ready")
    expect(r.snapshots.final?.holds).toEqual([{ doc_id: "h1", state: "holding" }])
    expect(events(r, "firestore_write")).toEqual([])
  })

  it("rule 14: retry needs Failed; mark-failed-for-retry is Firestore first; the retry makes a fresh attempt 1", () => {
    const r = replayed("mark-failed-then-retry")
    const commands = events(r, "command").map((c) => [c.name, c.ok])
    expect(commands).toEqual([
      ["retry", false],
      ["mark_failed_for_retry", true],
      ["mark_failed_for_retry", false],
      ["retry", true],
      ["reset_data_ready", false]
    ])
    expect(runsOf(r).map((x) => [x.attempt, x.state])).toEqual([
      [1, "failed_permanent"],
      [1, "succeeded"]
    ])
  })

  it("rule 14: skip queues a cooling row now and refuses anything else", () => {
    const r = replayed("skip")
    expect(events(r, "command").map((c) => c.ok)).toEqual([true, false, false])
    expect(runsOf(r)[0]?.scheduled_run_at).toBe("2026-01-05T01:00:00.000Z")
  })

  it("tunables: a bad value is refused with its reason and changes nothing", () => {
    const r = replayed("tunables")
    expect(events(r, "command").map((c) => c.ok)).toEqual([true, false, false, false, false])
    expect(runsOf(r)[0]?.scheduled_run_at).toBe("2026-01-05T01:01:00.000Z")
  })

  it("MAX_WORKERS runs two at once with the sandbox on, one at a time with it off", () => {
    const concurrency = (r: ReplayResult) => runsOf(r, "started").filter((x) => x.state === "running").length
    expect(concurrency(replayed("workers-sandbox"))).toBe(2)
    expect(concurrency(replayed("workers-no-sandbox"))).toBe(1)
  })
})
