/**
 * End to end on the real Firestore protocol: the in-process emulator
 * (embeddedFirestoreLayer, seeded from the test's own seed directory) behind
 * the live port, the plain executor, and the capture mailer. Documents are
 * written and read back through a separate firebase-admin client on the same
 * emulator, as a hospital or the dashboard's downstream would.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { acquireDocEditor } from "../../kernel/firestore/doc-editor.ts"
import { EmbeddedFirestore } from "../../kernel/firestore/embedded.ts"
import { CapturedMail } from "../../kernel/mail/capture.ts"
import { Outage } from "../../kernel/outage.ts"
import {
  control,
  dataReady,
  emulatorPorts,
  eventually,
  execute,
  FAST,
  holds,
  integrationConfig,
  plainExecutor,
  quiet,
  recordEvents,
  rowsFor,
  runLog,
  startAllocator,
  tempRoot,
  type TestRoot,
  type TunableValues,
  waitForRows,
  waitForState
} from "./support.ts"

const TIMEOUT = 120_000

const ORDERED = {
  status: "Ordered",
  service: "Gen-Decoder",
  patientId: "P-100",
  patientName: "Ada Lovelace",
  collectionDate: "2026-01-02"
}
const PATIENT = { name: "Ada Lovelace", birthDate: "1815-12-10", sex: "F" }

const writeSeed = (t: TestRoot) => {
  const dir = join(t.root, "seed")
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "reports.json"), JSON.stringify({ "ord-1": ORDERED }))
  writeFileSync(join(dir, "patients.json"), JSON.stringify({ "P-100": PATIENT }))
  return dir
}

const start = (t: TestRoot, tunables: TunableValues = {}) =>
  Effect.gen(function* () {
    const config = integrationConfig(t)
    const allocator = yield* startAllocator({
      config,
      ports: emulatorPorts(config, writeSeed(t)),
      executor: plainExecutor(config),
      tunables: { ...FAST, SANDBOX_ENABLED: 0, ...tunables }
    })
    // A second client on the emulator (FIRESTORE_EMULATOR_HOST is set while it runs).
    const editor = yield* acquireDocEditor({ projectId: config.firestore.projectId })
    return { ...allocator, editor }
  })

const mails = Effect.flatMap(CapturedMail, (m) => m.messages)

describe("end to end on the Firestore emulator", () => {
  it.scopedLive(
    "a Data Ready document written through the emulator gets a row and runs",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const { config, run, editor } = yield* start(t)
          yield* editor.set("reports", "e2e-ok", dataReady("Epi-Insight", "P-100"))

          const row = yield* run(waitForState("e2e-ok", "succeeded"))
          expect(row).toMatchObject({ service: "Epi-Insight", patient_id: "P-100", patient_name: "Ada Lovelace", attempt: 1 })
          expect(runLog(config, row)).toContain("pipeline start doc=e2e-ok patient=P-100 service=Epi-Insight attempt=1")
          expect((yield* editor.get("reports", "e2e-ok"))?.status).toBe("Data Ready")
          // The seeded order that is not Data Ready got no row.
          expect(yield* run(rowsFor("ord-1"))).toEqual([])
        })
      ),
    TIMEOUT
  )

  it.scopedLive(
    "exhausting retries writes status Failed into the emulator's document",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const ctl = control(t)
          ctl.exitWith("e2e-fail", 4)
          const { run, editor } = yield* start(t, { MAX_RETRIES: 2 })
          yield* editor.set("reports", "e2e-fail", dataReady("Omni-Health", "P-100", { hospital: "St Elsewhere" }))

          const rows = yield* run(waitForRows("e2e-fail", "failed_permanent", (r) => r.at(-1)?.state === "failed_permanent"))
          expect(rows.map((r) => [r.attempt, r.state, r.exit_code])).toEqual([
            [1, "failed_retrying", 4],
            [2, "failed_permanent", 4]
          ])
          // Only status changed: the rest of the document is as the hospital wrote it.
          expect(yield* editor.get("reports", "e2e-fail")).toEqual({
            ...dataReady("Omni-Health", "P-100", { hospital: "St Elsewhere" }),
            status: "Failed"
          })
          const sent = yield* eventually("the permanent_failure email", Effect.map(run(mails), (m) => (m.length > 0 ? m : undefined)))
          expect(sent.map((m) => m.subject)).toEqual(["[Lomi] Permanent failure: Omni-Health order e2e-fail, patient Ada Lovelace (P-100)"])

          // Rule 14: a manual retry flips Firestore back, and the ADDED that follows starts a fresh attempt 1.
          ctl.exitWith("e2e-fail", 0)
          expect(yield* run(execute({ _tag: "retry", doc: "e2e-fail" }))).toEqual({ ok: true, message: "e2e-fail set to Data Ready" })
          const retried = yield* run(waitForRows("e2e-fail", "a fresh attempt to succeed", (r) => r.length === 3 && r[2]?.state === "succeeded"))
          expect(retried[2]).toMatchObject({ attempt: 1, notes: null, exit_code: 0 })
          expect((yield* editor.get("reports", "e2e-fail"))?.status).toBe("Data Ready")
        })
      ),
    TIMEOUT
  )

  it.scopedLive(
    "a document that leaves Data Ready while cooling is withdrawn without a Firestore write or an email",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const { run, editor } = yield* start(t, { COOLDOWN_SECONDS: 3600 })
          const events = yield* run(recordEvents)
          yield* editor.set("reports", "wd-1", dataReady("Gen-Decoder", "P-100"))
          yield* run(waitForState("wd-1", "waiting_cooldown"))

          yield* editor.patch("reports", "wd-1", { status: "Cancelled" })
          const withdrawn = yield* run(waitForState("wd-1", "failed_permanent"))
          expect(withdrawn).toMatchObject({ error_message: "Withdrawn from Firestore", attempt: 1, started_at: null })
          expect((yield* editor.get("reports", "wd-1"))?.status).toBe("Cancelled")
          expect(events.all().filter((e) => e._tag === "firestore_write")).toEqual([])
          // The upload reminder went out at arrival; the withdrawal sends nothing.
          const sent = yield* eventually("the upload reminder", Effect.map(run(mails), (m) => (m.length > 0 ? m : undefined)))
          expect(sent.map((m) => m.subject)).toEqual([expect.stringContaining("Upload reminder: Gen-Decoder order wd-1")])
        })
      ),
    TIMEOUT
  )

  it.scopedLive(
    "Manual Add writes patient_info.json into both trees; Release sets Data Ready + manualHoldRelease; the row skips the cooldown",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          // An hour's cooldown, which the released Gen-Decoder order must not wait.
          const { config, run, editor } = yield* start(t, { COOLDOWN_SECONDS: 3600 })
          const events = yield* run(recordEvents)

          const added = yield* run(execute({ _tag: "manual_add", doc: "ord-1" }))
          expect(added).toMatchObject({ ok: true })
          for (const root of [config.paths.patientBaseDir, config.paths.userDataDir]) {
            const info: unknown = JSON.parse(readFileSync(join(root, "P-100", "ord-1", "patient_info.json"), "utf8"))
            expect(info).toEqual({ reportId: "ord-1", service: "Gen-Decoder", patientId: "P-100", patient: PATIENT, report: ORDERED })
          }
          expect((yield* run(holds)).map((h) => [h.doc_id, h.state, h.created_by])).toEqual([["ord-1", "holding", "tester"]])
          expect((yield* editor.get("reports", "ord-1"))?.status).toBe("Ordered")
          expect(yield* run(rowsFor("ord-1"))).toEqual([])

          const released = yield* run(execute({ _tag: "release", doc: "ord-1" }))
          expect(released).toMatchObject({ ok: true })
          expect(yield* editor.get("reports", "ord-1")).toEqual({ ...ORDERED, status: "Data Ready", manualHoldRelease: true })
          expect((yield* run(holds)).map((h) => h.state)).toEqual(["released"])

          const row = yield* run(waitForState("ord-1", "succeeded"))
          expect(row).toMatchObject({ attempt: 1, notes: "manual_release", service: "Gen-Decoder" })
          const inserts = events.all().filter((e) => e._tag === "insert" && e.doc === "ord-1")
          expect(inserts.map((e) => (e._tag === "insert" ? e.state : undefined))).toEqual(["queued"])
          expect(Date.parse(row.scheduled_run_at ?? "")).toBeLessThanOrEqual(Date.parse(row.created_at))
          // The lab was told at Manual Add; no upload reminder after the release.
          const sent = yield* eventually("the manual_add email", Effect.map(run(mails), (m) => (m.length > 0 ? m : undefined)))
          expect(sent.map((m) => m.subject)).toEqual([
            "[Lomi] Manual add: please upload Gen-Decoder data for order ord-1, patient Ada Lovelace (P-100)"
          ])
        })
      ),
    TIMEOUT
  )
})

describe("outage on the real protocol", () => {
  /**
   * The SDK keeps an update() to an unreachable backend pending for minutes;
   * the port's timeout must still abandon it inside the worker's
   * uninterruptible outcome routing, so the connectivity check runs and
   * outage mode begins.
   */
  it.scopedLive(
    "the emulator stops under a failing run: outage mode within seconds, the row waits in running; once it listens again, Failed is written and the queue moves",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const ctl = control(t)
          const { config, run, editor } = yield* start(t, { MAX_RETRIES: 1 })
          const emulator = yield* run(EmbeddedFirestore)
          const outage = yield* run(Outage)
          ctl.gate("em-a")
          ctl.exitWith("em-a", 1)
          yield* editor.set("reports", "em-a", dataReady("Epi-Insight", "P-100"))
          const a = yield* run(waitForState("em-a", "running"))
          yield* eventually("em-a at its gate", Effect.sync(() => runLog(config, a).includes("waiting for em-a.go")))
          yield* editor.set("reports", "em-b", dataReady("Omni-Health", "P-100"))
          const b = yield* run(waitForState("em-b", "queued"))

          yield* emulator.stop
          ctl.open("em-a")
          // The Failed write is bounded (3 × connectivityTimeoutMs = 6 s), then the
          // connectivity probe (2 s) fails: outage mode well within 15 s.
          const entered = yield* eventually("outage mode", outage.isDown, { timeoutMs: 15_000 }).pipe(
            Effect.as(true),
            Effect.catchAllDefect(() => Effect.succeed(false))
          )
          const whileDown = {
            a: (yield* run(rowsFor("em-a"))).map((r) => r.state),
            b: (yield* run(rowsFor("em-b"))).map((r) => r.state)
          }
          // Bring Firestore back whatever happened, so that nothing is left waiting on it.
          yield* emulator.start
          expect(whileDown).toEqual({ a: ["running"], b: ["queued"] })
          expect(entered, "outage mode within 15 s of Firestore going away").toBe(true)

          const failed = yield* run(waitForState("em-a", "failed_permanent", { timeoutMs: 60_000 }))
          expect(failed.id).toBe(a.id)
          expect((yield* editor.get("reports", "em-a"))?.status).toBe("Failed")
          expect((yield* run(waitForState("em-b", "succeeded", { timeoutMs: 60_000 }))).id).toBe(b.id)
          // The listener is back on the emulator: a new document runs.
          yield* editor.set("reports", "em-c", dataReady("Epi-Insight", "P-100"))
          yield* run(waitForState("em-c", "succeeded", { timeoutMs: 60_000 }))
          expect((yield* run(rowsFor("em-a"))).length).toBe(1)
          expect((yield* run(rowsFor("em-b"))).length).toBe(1)
        })
      ),
    180_000
  )
})
