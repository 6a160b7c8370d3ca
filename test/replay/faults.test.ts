/**
 * Faults found by testing (issue 13), each replayed on the real actors, with
 * the expected histories written out from store.md rather than read back from
 * goldens: a golden regenerated with the bug in it still fails here.
 */
import { describe, expect, it } from "vitest"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import type { ReplayResult } from "../../kernel/replay/driver.ts"
import { REPLAY_DIR } from "../../kernel/replay/fixtures.ts"
import { runReplay, runsOf } from "../support/replay.ts"

type Event = Readonly<Record<string, unknown>>

/** The trace's events for one document, each as [kind, the fields that matter], in order. */
const story = (r: ReplayResult, doc: string) =>
  r.trace
    .filter((e: Event) => e.doc === doc || (e.kind === "exit" && r.trace.some((s: Event) => s.kind === "spawn" && s.doc === doc && s.run === e.run)))
    .map((e: Event) => {
      switch (e.kind) {
        case "insert":
          return ["insert", e.attempt, e.state]
        case "transition":
          return ["transition", e.from, e.to]
        case "firestore_write":
          return ["firestore_write", e.fields, e.ok]
        case "email":
          return ["email", e.template]
        default:
          return [e.kind]
      }
    })

const fromFile = (name: string) => runReplay(JSON.parse(readFileSync(join(REPLAY_DIR, `${name}.json`), "utf8")))

describe("a report that cannot run is never stuck (rules 3, 7)", () => {
  it("its Failed write fails: failed_sync and a sync_retry row that repeats the check without running; fixed and set to Data Ready again, it runs", async () => {
    const r = await runReplay({
      name: "cannot run, write fails, then fixed",
      start: "2026-01-05T00:00:00Z",
      tunables: { FAILED_SYNC_RETRY_DELAY_SECONDS: 600 },
      steps: [
        // The document exists before its writes are made to fail (schemas/fixture.ts refuses a
        // fail_writes for a document no earlier step creates, though replay.md allows it).
        { at: "0s", doc: { id: "n1", data: { status: "Ordered", service: "Epi-Insight" } } },
        { at: "0s", firestore_fail_writes: { doc: "n1", for: "5m" } },
        { at: "0s", patch: { id: "n1", data: { status: "Data Ready" } } },
        { at: "1m", snapshot: "after-arrival" },
        { at: "20m", snapshot: "after-retry" },
        { at: "30m", patch: { id: "n1", data: { status: "Data Ready", patientId: "P010" } } }
      ],
      until: "1h"
    })
    expect(runsOf(r, "after-arrival").map((x) => [x.state, x.attempt, x.notes])).toEqual([
      ["failed_sync", 1, null],
      ["waiting_cooldown", 1, "sync_retry"]
    ])
    expect(String(runsOf(r, "after-arrival")[0]?.error_message)).toMatch(/^\[FIRESTORE_SYNC_FAILED\] report has no patientId/)
    expect(runsOf(r, "after-retry").map((x) => [x.state, x.notes, x.error_message])).toEqual([
      ["failed_sync", null, expect.stringMatching(/^\[FIRESTORE_SYNC_FAILED\]/)],
      ["failed_permanent", "sync_retry", "report has no patientId"]
    ])
    expect(r.snapshots["after-retry"]?.firestore).toEqual({ n1: { status: "Failed", service: "Epi-Insight" } })
    expect(runsOf(r).map((x) => [x.state, x.patient_id])).toEqual([
      ["failed_sync", null],
      ["failed_permanent", null],
      ["succeeded", "P010"]
    ])
    // Only the fixed document ever ran.
    expect(r.trace.filter((e: Event) => e.kind === "spawn").map((e: Event) => e.at)).toEqual(["2026-01-05T00:30:00.000Z"])
  })
})

describe("optional display fields of the wrong type never fail an order", () => {
  it("patientName: 42 and manualHoldRelease: \"true\" are ignored: the order cools down (not released) and runs; Firestore is untouched", async () => {
    const r = await runReplay({
      name: "display fields of the wrong type",
      start: "2026-01-05T00:00:00Z",
      tunables: { COOLDOWN_SECONDS: 3600 },
      steps: [
        {
          at: "0s",
          doc: { id: "g1", data: { status: "Data Ready", service: "Gen-Decoder", patientId: "P001", patientName: 42, manualHoldRelease: "true", collectionDate: { y: 2026 } } }
        },
        { at: "0s", doc: { id: "e1", data: { status: "Data Ready", service: "Epi-Insight", patientId: "P002", patientName: ["x"] } } }
      ],
      until: "3h"
    })
    expect(r.trace.filter((e: Event) => e.kind === "firestore_write")).toEqual([])
    expect(r.trace.filter((e: Event) => e.kind === "insert").map((e: Event) => [e.doc, e.state])).toEqual([
      ["g1", "waiting_cooldown"],
      ["e1", "queued"]
    ])
    expect(r.snapshots.final?.emails).toEqual([{ template: "upload_reminder", doc: "g1", status: "ok" }])
    expect(runsOf(r).map((x) => [x.doc_id, x.state, x.scheduled_run_at])).toEqual([
      ["g1", "succeeded", "2026-01-05T01:00:00.000Z"],
      ["e1", "succeeded", "2026-01-05T00:00:00.000Z"]
    ])
  })
})

describe("order checks written out", () => {
  it("temp fail (rule 5): each new row is due TEMP_FAIL_RETRY_DELAY_SECONDS (3600 s) after the exit, at the same attempt", async () => {
    const r = await fromFile("temp-fail-loop")
    // Runs take 1 m each: exits at 00:01, 01:02, 02:03; each next row is due one hour after.
    expect(runsOf(r).map((x) => [x.attempt, x.state, x.exit_code, x.scheduled_run_at, x.finished_at])).toEqual([
      [1, "temp_failed", 75, "2026-01-05T00:00:00.000Z", "2026-01-05T00:01:00.000Z"],
      [1, "temp_failed", 75, "2026-01-05T01:01:00.000Z", "2026-01-05T01:02:00.000Z"],
      [1, "temp_failed", 75, "2026-01-05T02:02:00.000Z", "2026-01-05T02:03:00.000Z"],
      [1, "succeeded", 0, "2026-01-05T03:03:00.000Z", "2026-01-05T03:04:00.000Z"]
    ])
  })

  it("mark-failed-for-retry (rule 14): Firestore Failed, then failed_permanent; retry: Data Ready, then a fresh attempt 1", async () => {
    const r = await fromFile("mark-failed-then-retry")
    expect(story(r, "e1")).toEqual([
      ["insert", 1, "queued"],
      ["transition", "queued", "running"],
      ["spawn"],
      ["exit"],
      ["transition", "running", "succeeded"],
      ["firestore_write", { status: "Failed" }, true],
      ["transition", "succeeded", "failed_permanent"],
      ["firestore_write", { status: "Data Ready" }, true],
      ["insert", 1, "queued"],
      ["transition", "queued", "running"],
      ["spawn"],
      ["exit"],
      ["transition", "running", "succeeded"]
    ])
    expect(r.trace.filter((e: Event) => e.kind === "command").map((e: Event) => [e.name, e.ok])).toEqual([
      ["retry", false],
      ["mark_failed_for_retry", true],
      ["mark_failed_for_retry", false],
      ["retry", true],
      ["reset_data_ready", false]
    ])
  })

  it("crash recovery (rule 10): below MAX_RETRIES a recovered row at attempt+1; at it, Firestore Failed first, then failed_permanent, then the email", async () => {
    const r = await fromFile("crash-recovery")
    const e1 = story(r, "e1")
    const crashAt = e1.findIndex((s) => s[0] === "transition" && s[1] === "running" && s[2] === "failed_retrying")
    expect(crashAt).toBeGreaterThan(0)
    expect(e1.slice(crashAt, crashAt + 2)).toEqual([
      ["transition", "running", "failed_retrying"],
      ["insert", 2, "queued"]
    ])
    const e2 = story(r, "e2")
    const write = e2.findIndex((s) => s[0] === "firestore_write")
    expect(e2.slice(write, write + 3)).toEqual([
      ["firestore_write", { status: "Failed" }, true],
      ["transition", "running", "failed_permanent"],
      ["email", "permanent_failure"]
    ])
    expect(runsOf(r).filter((x) => x.doc_id === "e1").map((x) => [x.attempt, x.state, x.notes])).toEqual([
      [1, "failed_retrying", null],
      [2, "succeeded", "recovered"]
    ])
  })
})
