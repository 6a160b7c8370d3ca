/**
 * Every command over HTTP, done and refused, checked by its effect on the
 * allocator (runs, Firestore) and on the audit log.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import { SimHost } from "../../kernel/replay/simHost.ts"
import {
  arrive,
  type Client,
  exitAfter,
  firestoreStatus,
  hang,
  lastOf,
  type Reply,
  serverLayer,
  signIn,
  statesOf,
  waitRuns
} from "./support.ts"

interface Result {
  readonly ok: boolean
  readonly message: string
  readonly run?: number
}

const result = (reply: Reply): Result => {
  expect(reply.status, reply.text).toBe(200)
  return reply.body as Result
}

const auditEntries = (client: Client) =>
  Effect.map(
    client.get("/api/commands?limit=200"),
    (r) => (r.body as { items: ReadonlyArray<{ user: string; name: string; status: string; result: string | null; args: unknown }> }).items
  )

layer(serverLayer(), { excludeTestServices: true })("commands", (it) => {
  it.effect("set several tunables at once; the answer names those needing a restart", () =>
    Effect.gen(function* () {
      const admin = yield* signIn("admin")
      const reply = yield* admin.put("/api/tunables", {
        values: { KILL_GRACE_MS: 50, MAX_WORKERS: 4, RETRY_DELAY_SECONDS: 3600 }
      })
      expect(reply.status).toBe(200)
      expect(reply.body).toMatchObject({ ok: true, restartRequired: ["MAX_WORKERS"] })
      const list = (yield* admin.get("/api/tunables")).body as {
        items: ReadonlyArray<{ key: string; current: number; updatedBy: string | null; updatedAt: string | null }>
        effectiveMaxWorkers: number
      }
      const grace = list.items.find((t) => t.key === "KILL_GRACE_MS")
      expect(grace).toMatchObject({ current: 50, updatedBy: "ada" })
      expect(list.effectiveMaxWorkers).toBe(4)
      // Saving the same value again does not ask for a restart.
      const again = yield* admin.put("/api/tunables", { values: { MAX_WORKERS: 4 } })
      expect(again.body).toMatchObject({ ok: true, restartRequired: [] })
      const audit = yield* auditEntries(admin)
      expect(audit.filter((e) => e.name === "set_tunable" && e.user === "ada").length).toBe(4)
    })
  )

  it.effect("a succeeded run: kill, skip, retry and reset are refused; mark-failed-for-retry then retry runs it again", () =>
    Effect.gen(function* () {
      const operator = yield* signIn("operator")
      const admin = yield* signIn("admin")
      yield* arrive("cmd-e1", "Epi-Insight", "P100", [exitAfter(0), exitAfter(0)])
      const done = yield* waitRuns(operator, "cmd-e1", (runs) => lastOf(runs)?.state === "succeeded")
      const run = lastOf(done)?.id ?? 0

      const kill = result(yield* operator.post(`/api/runs/${run}/kill`))
      expect(kill).toEqual({ ok: false, message: `run ${run} is already succeeded` })
      const skip = result(yield* operator.post(`/api/runs/${run}/skip`))
      expect(skip.ok).toBe(false)
      expect(skip.message).toMatch(/not waiting_cooldown/)
      const retry = result(yield* operator.post("/api/docs/cmd-e1/retry"))
      expect(retry).toEqual({ ok: false, message: 'cmd-e1 is "Data Ready" in Firestore, not Failed' })
      const reset = result(yield* operator.post("/api/docs/cmd-e1/reset-data-ready"))
      expect(reset).toEqual({ ok: false, message: "cmd-e1 is already Data Ready" })
      const ocr = result(yield* operator.post("/api/docs/cmd-e1/regenerate-ocr"))
      expect(ocr.message).toMatch(/OCR re-runs are for Omni-Health/)

      const mark = result(yield* admin.post("/api/docs/cmd-e1/mark-failed-for-retry"))
      expect(mark.ok).toBe(true)
      expect((yield* firestoreStatus("cmd-e1"))?.status).toBe("Failed")
      const marked = yield* waitRuns(operator, "cmd-e1", (runs) => lastOf(runs)?.state === "failed_permanent")
      expect(lastOf(marked)?.error_message).toBe("Marked failed for retry by ada")

      const again = result(yield* operator.post("/api/docs/cmd-e1/retry"))
      expect(again).toEqual({ ok: true, message: "cmd-e1 set to Data Ready" })
      const rerun = yield* waitRuns(operator, "cmd-e1", (runs) => runs.length === 2 && lastOf(runs)?.state === "succeeded")
      expect(statesOf(rerun)).toEqual(["failed_permanent", "succeeded"])

      const audit = yield* auditEntries(operator)
      const kills = audit.filter((e) => e.name === "kill" && e.user === "otto")
      expect(kills[0]).toMatchObject({ status: "refused", result: `run ${run} is already succeeded`, args: { run } })
      expect(audit.some((e) => e.name === "mark_failed_for_retry" && e.user === "ada" && e.status === "ok")).toBe(true)
    })
  )

  it.effect("kill a running pipeline: Firestore Failed, row failed_permanent, who killed it", () =>
    Effect.gen(function* () {
      const operator = yield* signIn("operator")
      yield* arrive("cmd-k1", "Omni-Health", "P101", [hang])
      const running = yield* waitRuns(operator, "cmd-k1", (runs) => lastOf(runs)?.state === "running")
      const run = lastOf(running)?.id ?? 0
      const kill = result(yield* operator.post(`/api/runs/${run}/kill`))
      expect(kill).toEqual({ ok: true, message: `run ${run} killed`, run })
      const after = yield* waitRuns(operator, "cmd-k1", (runs) => lastOf(runs)?.state === "failed_permanent")
      expect(lastOf(after)?.error_message).toBe("Killed by otto")
      expect((yield* firestoreStatus("cmd-k1"))?.status).toBe("Failed")
      // A second kill of the same (now terminal) run is refused.
      const again = result(yield* operator.post(`/api/runs/${run}/kill`))
      expect(again.ok).toBe(false)
    })
  )

  it.effect("skip moves a cooling Gen-Decoder row to the queue at once", () =>
    Effect.gen(function* () {
      const operator = yield* signIn("operator")
      yield* arrive("cmd-g1", "Gen-Decoder", "P102", [exitAfter(0)])
      const cooling = yield* waitRuns(operator, "cmd-g1", (runs) => lastOf(runs)?.state === "waiting_cooldown")
      const run = lastOf(cooling)?.id ?? 0
      const skip = result(yield* operator.post(`/api/runs/${run}/skip`))
      expect(skip).toEqual({ ok: true, message: `run ${run} queued now`, run })
      yield* waitRuns(operator, "cmd-g1", (runs) => lastOf(runs)?.state === "succeeded")
    })
  )

  it.effect("regenerate OCR queues an ocr_rerun row for a succeeded Omni-Health document", () =>
    Effect.gen(function* () {
      const operator = yield* signIn("operator")
      yield* arrive("cmd-o1", "Omni-Health", "P103", [exitAfter(0), exitAfter(0, 2000)])
      yield* waitRuns(operator, "cmd-o1", (runs) => lastOf(runs)?.state === "succeeded")
      const ocr = result(yield* operator.post("/api/docs/cmd-o1/regenerate-ocr"))
      expect(ocr.ok).toBe(true)
      expect(ocr.message).toMatch(/^OCR re-run queued as run \d+$/)
      const rows = yield* waitRuns(operator, "cmd-o1", (runs) => runs.length === 2)
      expect(lastOf(rows)?.notes).toBe("ocr_rerun")
      // While that re-run is active, another is refused.
      const second = result(yield* operator.post("/api/docs/cmd-o1/regenerate-ocr"))
      expect(second.ok).toBe(false)
    })
  )

  it.effect("reset to Data Ready: refused when already Data Ready, done otherwise", () =>
    Effect.gen(function* () {
      const operator = yield* signIn("operator")
      const fs = yield* MemoryFirestore
      yield* (yield* SimHost).append("cmd-r1", [exitAfter(0)])
      yield* fs.setReport("cmd-r1", { status: "Available", service: "Epi-Insight", patientId: "P104" })
      const reset = result(yield* operator.post("/api/docs/cmd-r1/reset-data-ready"))
      expect(reset).toEqual({ ok: true, message: "cmd-r1 set to Data Ready" })
      expect((yield* firestoreStatus("cmd-r1"))?.status).toBe("Data Ready")
      const again = result(yield* operator.post("/api/docs/cmd-r1/reset-data-ready"))
      expect(again.ok).toBe(false)
    })
  )

  it.effect("manual add: validate one, validate a CSV, submit, then release, cancel and bulk", () =>
    Effect.gen(function* () {
      const operator = yield* signIn("operator")
      const fs = yield* MemoryFirestore
      const sim = yield* SimHost
      yield* sim.append("hold-1", [exitAfter(0)])
      yield* sim.append("hold-3", [exitAfter(0)])
      yield* sim.append("hold-ready", [exitAfter(0)])
      yield* fs.setPatient("PH1", { name: "Hold Patient" })
      for (const doc of ["hold-1", "hold-2", "hold-3", "hold-4"]) {
        yield* fs.setReport(doc, { status: "Ordered", service: "Gen-Decoder", patientId: "PH1", patientName: "H. P." })
      }
      yield* fs.setReport("hold-ready", { status: "Data Ready", service: "Epi-Insight", patientId: "PH1" })
      yield* fs.setReport("hold-other", { status: "Ordered", service: "Other-Service", patientId: "PH1" })

      const one = yield* operator.post("/api/manual-add/validate", { doc: "hold-1" })
      expect(one.body).toEqual({
        doc: "hold-1",
        ok: true,
        message: "can be added: Gen-Decoder, patient PH1 (H. P.)",
        service: "Gen-Decoder",
        patientId: "PH1",
        patientName: "H. P."
      })
      const refusedOne = yield* operator.post("/api/manual-add/validate", { doc: "hold-ready" })
      expect(refusedOne.body).toMatchObject({ ok: false, message: "report hold-ready is already Data Ready" })

      const csv = ["report_id", "hold-1", "", "hold-2", "hold-1", '"hold-3"', "hold-other", "no-such-report", "../bad", "  "].join("\n")
      const verdicts = (yield* operator.post("/api/manual-add/validate-csv", { csv })).body as {
        rows: ReadonlyArray<{ line: number; doc: string; ok: boolean; message: string }>
        accepted: ReadonlyArray<string>
        rejected: number
      }
      expect(verdicts.rows.map((r) => [r.line, r.doc, r.ok])).toEqual([
        [2, "hold-1", true],
        [4, "hold-2", true],
        [5, "hold-1", false],
        [6, "hold-3", true],
        [7, "hold-other", false],
        [8, "no-such-report", false],
        [9, "../bad", false]
      ])
      expect(verdicts.rows[2]?.message).toBe("duplicate of line 2")
      expect(verdicts.rows[4]?.message).toBe('service "Other-Service" is not managed here')
      expect(verdicts.rows[5]?.message).toBe("report no-such-report does not exist")
      expect(verdicts.accepted).toEqual(["hold-1", "hold-2", "hold-3"])
      expect(verdicts.rejected).toBe(4)
      // Validation adds nothing.
      const queueBefore = (yield* operator.get("/api/process-queue")).body as { items: ReadonlyArray<{ _tag: string }> }
      expect(queueBefore.items.filter((i) => i._tag === "hold")).toEqual([])

      const submitted = (yield* operator.post("/api/manual-add", { docs: ["hold-1", "hold-2", "hold-3", "hold-4", "hold-ready"] }))
        .body as { ok: boolean; message: string; results: ReadonlyArray<{ doc: string; ok: boolean; message: string }> }
      expect(submitted.ok).toBe(false)
      expect(submitted.message).toBe("4 of 5 done; 1 refused")
      expect(submitted.results.map((r) => [r.doc, r.ok])).toEqual([
        ["hold-1", true],
        ["hold-2", true],
        ["hold-3", true],
        ["hold-4", true],
        ["hold-ready", false]
      ])
      const again = (yield* operator.post("/api/manual-add", { docs: ["hold-1"] })).body as { results: ReadonlyArray<{ message: string }> }
      expect(again.results[0]?.message).toBe("report hold-1 is already on hold")

      const queue = (yield* operator.get("/api/process-queue")).body as { items: ReadonlyArray<{ _tag: string; doc: string }> }
      expect(queue.items.filter((i) => i._tag === "hold").map((i) => i.doc)).toEqual(["hold-1", "hold-2", "hold-3", "hold-4"])

      const release = result(yield* operator.post("/api/holds/hold-1/release"))
      expect(release).toEqual({ ok: true, message: "hold-1 released" })
      expect(yield* firestoreStatus("hold-1")).toMatchObject({ status: "Data Ready", manualHoldRelease: true })
      // The released Gen-Decoder report skips its cooldown.
      const released = yield* waitRuns(operator, "hold-1", (runs) => runs.length > 0)
      expect(["queued", "running", "succeeded"]).toContain(lastOf(released)?.state)
      const releaseAgain = result(yield* operator.post("/api/holds/hold-1/release"))
      expect(releaseAgain).toEqual({ ok: false, message: "report hold-1 has no hold" })

      const cancel = result(yield* operator.post("/api/holds/hold-2/cancel"))
      expect(cancel).toEqual({ ok: true, message: "hold on hold-2 cancelled" })

      // Somebody set hold-4 to Data Ready by hand: its release is refused and the hold stays.
      yield* fs.patchReport("hold-4", { status: "Data Ready" })
      const bulk = (yield* operator.post("/api/holds/release", { docs: ["hold-3", "hold-4", "hold-2"] })).body as {
        ok: boolean
        results: ReadonlyArray<{ doc: string; ok: boolean; message: string }>
      }
      expect(bulk.ok).toBe(false)
      expect(bulk.results).toEqual([
        { doc: "hold-3", ok: true, message: "hold-3 released" },
        { doc: "hold-4", ok: false, message: "report hold-4 is already Data Ready; hold kept so you can investigate" },
        { doc: "hold-2", ok: false, message: "report hold-2 has no hold" }
      ])
      const left = (yield* operator.get("/api/process-queue")).body as { items: ReadonlyArray<{ _tag: string; doc: string }> }
      expect(left.items.filter((i) => i._tag === "hold").map((i) => i.doc)).toEqual(["hold-4"])
      const cancelAll = (yield* operator.post("/api/holds/cancel", { docs: ["hold-4"] })).body as { ok: boolean }
      expect(cancelAll.ok).toBe(true)

      const audit = yield* auditEntries(operator)
      expect(audit.filter((e) => e.name === "manual_add").length).toBe(6)
      expect(audit.filter((e) => e.name === "release" && e.status === "refused").length).toBe(3)
    })
  )

  it.effect("batch rerun: mark-failed-for-retry then retry, per document", () =>
    Effect.gen(function* () {
      const admin = yield* signIn("admin")
      yield* arrive("batch-1", "Epi-Insight", "P110", [exitAfter(0), exitAfter(0)])
      yield* arrive("batch-2", "Omni-Health", "P111", [exitAfter(0), exitAfter(0)])
      yield* arrive("batch-3", "Epi-Insight", "P112", [hang])
      yield* waitRuns(admin, "batch-1", (runs) => lastOf(runs)?.state === "succeeded")
      yield* waitRuns(admin, "batch-2", (runs) => lastOf(runs)?.state === "succeeded")
      const hanging = yield* waitRuns(admin, "batch-3", (runs) => lastOf(runs)?.state === "running")
      const reply = yield* admin.post("/api/batch-rerun", { docs: ["batch-1", "batch-2", "batch-3"] })
      expect(reply.status).toBe(200)
      const body = reply.body as {
        ok: boolean
        message: string
        results: ReadonlyArray<{ doc: string; ok: boolean; markFailed: Result; retry: Result | null }>
      }
      expect(body.ok).toBe(false)
      expect(body.message).toBe("2 of 3 re-run")
      expect(body.results.map((r) => [r.doc, r.ok, r.markFailed.ok, r.retry?.ok ?? null])).toEqual([
        ["batch-1", true, true, true],
        ["batch-2", true, true, true],
        ["batch-3", false, false, null]
      ])
      expect(body.results[2]?.markFailed.message).toBe("batch-3's newest run is running, not succeeded")
      // Free the only worker for the re-runs.
      const kill = yield* admin.post(`/api/runs/${lastOf(hanging)?.id ?? 0}/kill`)
      expect((kill.body as Result).ok).toBe(true)
      for (const doc of ["batch-1", "batch-2"]) {
        const runs = yield* waitRuns(admin, doc, (r) => r.length === 2 && lastOf(r)?.state === "succeeded")
        expect(statesOf(runs)).toEqual(["failed_permanent", "succeeded"])
      }
    })
  )
})
