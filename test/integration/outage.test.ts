/**
 * Outage (rule 12) on the live clock: the in-memory Firestore goes down while
 * a pipeline that will fail permanently is running. Its row stays `running`
 * and no new pipeline starts; when Firestore is back (the outage watch probes
 * with backoff from ~1 s) the Failed write happens, the row ends
 * failed_permanent, the queued row runs, and new arrivals are seen again.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import { CapturedMail } from "../../kernel/mail/capture.ts"
import { Outage } from "../../kernel/outage.ts"
import {
  control,
  dataReady,
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
