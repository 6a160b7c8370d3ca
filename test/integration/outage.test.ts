/**
 * Outage (rule 12) on the live clock: the in-memory Firestore goes down while
 * a pipeline that will fail permanently is running. Its row stays `running`
 * and no new pipeline starts; when Firestore is back (the outage watch probes
 * with backoff from ~1 s) the Failed write happens, the row ends
 * failed_permanent, the queued row runs, and new arrivals are seen again.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { acquireDocEditor } from "../../kernel/firestore/doc-editor.ts"
import { EmbeddedFirestore } from "../../kernel/firestore/embedded.ts"
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import { CapturedMail } from "../../kernel/mail/capture.ts"
import { Outage } from "../../kernel/outage.ts"
import {
  control,
  dataReady,
  emulatorPorts,
  eventually,
  FAST,
  integrationConfig,
  isLive,
  memoryPorts,
  plainExecutor,
  quiet,
  recordEvents,
  rowsFor,
  runLog,
  startAllocator,
  tempRoot,
  waitForNotification,
  waitForState
} from "./support.ts"

const TIMEOUT = 90_000

const statusOf = (docId: string) =>
  Effect.flatMap(MemoryFirestore, (fs) => fs.snapshotReports).pipe(
    Effect.map((reports) => reports.find((r) => r.id === docId)?.data.status)
  )

describe("Firestore outage with real pipelines", () => {
  it.scopedLive(
    "a permanent failure waits in `running` for Firestore, nothing new starts, and both finish once it is back",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const ctl = control(t)
          const config = integrationConfig(t)
          const { run } = yield* startAllocator({
            config,
            ports: memoryPorts(),
            executor: plainExecutor(config),
            tunables: { ...FAST, SANDBOX_ENABLED: 0, MAX_RETRIES: 1 }
          })
          const events = yield* run(recordEvents)
          const firestore = yield* run(MemoryFirestore)
          const outage = yield* run(Outage)

          // A runs (held at its gate, then exits 1: its only attempt fails); B queues behind it.
          ctl.gate("out-a")
          ctl.exitWith("out-a", 1)
          yield* firestore.setReport("out-a", dataReady("Epi-Insight"))
          const a = yield* run(waitForState("out-a", "running"))
          yield* eventually("out-a at its gate", Effect.sync(() => runLog(config, a).includes("waiting for out-a.go")))
          yield* firestore.setReport("out-b", dataReady("Omni-Health"))
          const b = yield* run(waitForState("out-b", "queued"))

          yield* firestore.setOutage(true)
          yield* eventually("outage mode", outage.isDown)
          ctl.open("out-a")
          yield* eventually(
            "out-a's exit",
            Effect.sync(() => events.all().some((e) => e._tag === "exit" && e.run === a.id))
          )
          yield* eventually("out-a's Failed write to wait for Firestore", Effect.map(outage.pendingRuns, (runs) => runs.includes(a.id)))
          expect(isLive(ctl.pid("out-a", 1) ?? 0)).toBe(false)

          // While down: A stays running, B stays queued and never starts.
          const watchUntil = Date.now() + 1500
          while (Date.now() < watchUntil) {
            expect((yield* run(rowsFor("out-a"))).map((r) => r.state)).toEqual(["running"])
            expect((yield* run(rowsFor("out-b"))).map((r) => r.state)).toEqual(["queued"])
            yield* Effect.sleep("50 millis")
          }
          expect(events.all().filter((e) => e._tag === "spawn" && e.run === b.id)).toEqual([])
          expect(yield* run(statusOf("out-a"))).toBe("Data Ready")
          expect(yield* outage.isDown).toBe(true)

          yield* firestore.setOutage(false)
          const failed = yield* run(waitForState("out-a", "failed_permanent", { timeoutMs: 30_000 }))
          expect(failed).toMatchObject({ id: a.id, exit_code: 1, error_message: "pipeline exited with code 1 (attempt 1 of 1)" })
          expect(yield* run(statusOf("out-a"))).toBe("Failed")
          const succeeded = yield* run(waitForState("out-b", "succeeded", { timeoutMs: 30_000 }))
          expect(succeeded.id).toBe(b.id)
          expect(yield* outage.isDown).toBe(false)
          expect(yield* run(waitForNotification("permanent_failure", "out-a"))).toMatchObject({ status: "ok" })
          const mails = yield* run(Effect.flatMap(CapturedMail, (m) => m.messages))
          expect(mails.map((m) => m.subject)).toEqual([expect.stringContaining("Permanent failure: Epi-Insight order out-a")])

          // Nothing ran twice, and the listener is back: a new arrival runs.
          expect((yield* run(rowsFor("out-a"))).length).toBe(1)
          expect((yield* run(rowsFor("out-b"))).length).toBe(1)
          expect(events.all().filter((e) => e._tag === "spawn").map((e) => (e._tag === "spawn" ? e.doc : ""))).toEqual([
            "out-a",
            "out-b"
          ])
          yield* eventually("the listener to re-subscribe", Effect.map(firestore.subscriberCount, (n) => n === 1))
          yield* firestore.setReport("out-c", dataReady("Epi-Insight"))
          yield* run(waitForState("out-c", "succeeded"))
        })
      ),
    TIMEOUT
  )
})

/** Rule 12's bound, both ways. */
const NOTICE_MS = 15_000
/**
 * How often the emulator goes away, each time for at least DOWN_MS. `make test` runs 5 (about
 * 25 s each on a quiet machine); LOMI_OUTAGE_CYCLES=10 runs the ten the issue asks for.
 */
const CYCLES = Number(process.env.LOMI_OUTAGE_CYCLES ?? "5")
const DOWN_MS = 5_000

describe("outage on the real Firestore protocol, repeatedly, while work flows", () => {
  it.scopedLive(
    `the emulator stops ${CYCLES} times: each outage is entered and left within 15 s, nothing starts meanwhile, nothing runs twice, held writes land`,
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const ctl = control(t)
          const config = integrationConfig(t)
          const seed = join(t.root, "seed")
          mkdirSync(seed, { recursive: true })
          writeFileSync(join(seed, "reports.json"), "{}")
          writeFileSync(join(seed, "patients.json"), "{}")
          const { run } = yield* startAllocator({
            config,
            ports: emulatorPorts(config, seed),
            executor: plainExecutor(config),
            tunables: { ...FAST, SANDBOX_ENABLED: 0, MAX_RETRIES: 1 }
          })
          const editor = yield* acquireDocEditor({ projectId: config.firestore.projectId })
          const emulator = yield* run(EmbeddedFirestore)
          const outage = yield* run(Outage)
          const events = yield* run(recordEvents)
          const timings: Array<{ readonly entered: number; readonly left: number }> = []

          const t0 = Date.now()
          const mark = (what: string) =>
            Effect.sync(() => {
              if (process.env.LOMI_TEST_PROGRESS === "1") process.stderr.write(`${Date.now() - t0} ms ${what}\n`)
            })
          for (let i = 0; i < CYCLES; i++) {
            const a = `cyc${i}-a`
            const b = `cyc${i}-b`
            // A runs and will fail for good while Firestore is away (its Failed write must wait);
            // B is queued behind it (one worker) and must not start until Firestore is back.
            ctl.gate(a)
            ctl.exitWith(a, 1)
            yield* editor.set("reports", a, dataReady("Epi-Insight", "P-100"))
            const runA = yield* run(waitForState(a, "running"))
            yield* mark("A running")
            yield* eventually(`${a} at its gate`, Effect.sync(() => runLog(config, runA).includes(`waiting for ${a}.go`)))
            yield* editor.set("reports", b, dataReady("Omni-Health", "P-100"))
            const runB = yield* run(waitForState(b, "queued"))
            yield* mark("B queued")

            const stoppedAt = Date.now()
            yield* emulator.stop
            yield* eventually(`outage ${i} entered`, outage.isDown, { timeoutMs: NOTICE_MS + 5_000 })
            yield* mark("outage entered")
            const entered = Date.now() - stoppedAt
            ctl.open(a)
            yield* eventually(`${a}'s Failed write held for Firestore`, Effect.map(outage.pendingRuns, (runs) => runs.includes(runA.id)))
            const rest = DOWN_MS - (Date.now() - stoppedAt)
            if (rest > 0) yield* Effect.sleep(rest)
            expect((yield* run(rowsFor(b))).map((r) => r.state)).toEqual(["queued"])

            const startedAt = Date.now()
            yield* emulator.start
            yield* eventually(`outage ${i} left`, Effect.map(outage.isDown, (down) => !down), { timeoutMs: NOTICE_MS + 5_000 })
            timings.push({ entered, left: Date.now() - startedAt })
            if (process.env.LOMI_TEST_PROGRESS === "1") process.stderr.write(`cycle ${i}: ${JSON.stringify(timings.at(-1))}\n`)

            const failed = yield* run(waitForState(a, "failed_permanent", { timeoutMs: 60_000 }))
            expect(failed.id).toBe(runA.id)
            yield* mark("A failed_permanent")
            expect((yield* editor.get("reports", a))?.status).toBe("Failed")
            expect((yield* run(waitForState(b, "succeeded", { timeoutMs: 60_000 }))).id).toBe(runB.id)
            yield* mark("B succeeded")
          }

          for (const [i, timing] of timings.entries()) {
            expect(timing.entered, `outage ${i} entered after ${timing.entered} ms`).toBeLessThanOrEqual(NOTICE_MS)
            expect(timing.left, `outage ${i} left after ${timing.left} ms`).toBeLessThanOrEqual(NOTICE_MS)
          }
          // No pipeline started while down: every spawn lies outside every [down, up] window.
          const all = events.all()
          const windows: Array<readonly [string, string]> = []
          let downAt: string | undefined
          for (const e of all) {
            if (e._tag === "outage" && e.down) downAt = e.at
            if (e._tag === "outage" && !e.down && downAt !== undefined) {
              windows.push([downAt, e.at])
              downAt = undefined
            }
          }
          expect(windows.length).toBe(CYCLES)
          const spawns = all.flatMap((e) => (e._tag === "spawn" ? [e] : []))
          for (const spawn of spawns) {
            const inside = windows.find(([from, to]) => spawn.at > from && spawn.at < to)
            expect(inside, `${spawn.doc} spawned during the outage ${JSON.stringify(inside)}`).toBeUndefined()
          }
          // Nothing duplicated: one row and one spawn per document.
          const docs = Array.from({ length: CYCLES }, (_, i) => [`cyc${i}-a`, `cyc${i}-b`]).flat()
          expect([...spawns.map((s) => s.doc)].sort()).toEqual([...docs].sort())
          for (const doc of docs) expect((yield* run(rowsFor(doc))).length, doc).toBe(1)
        })
      ),
    60_000 + CYCLES * 60_000
  )
})
