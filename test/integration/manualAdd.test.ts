/**
 * Manual Add refusals (rule 11) through the command bus, in a whole
 * allocator on the in-memory Firestore: each refusal writes nothing (no hold,
 * no patient_info.json, no email, nothing outside the configured trees) and
 * is recorded in command_log as refused.
 */
import { existsSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { CapturedMail } from "../../kernel/mail/capture.ts"
import { CommandLog } from "../../kernel/store/commandLog.ts"
import {
  eventually,
  execute,
  FAST,
  holds,
  integrationConfig,
  memoryPorts,
  plainExecutor,
  quiet,
  startAllocator,
  tempRoot,
  type TestRoot,
  waitForState
} from "./support.ts"

const TIMEOUT = 60_000

const ordered = (service: string, patientId: string) => ({ status: "Ordered", service, patientId, patientName: "Ada Lovelace" })

const SEED = {
  reports: {
    "ready-1": { ...ordered("Gen-Decoder", "P-1"), status: "Data Ready" },
    "bio-1": ordered("Bio-Age", "P-1"),
    "nopat-1": ordered("Epi-Insight", "P-404"),
    "evil-1": ordered("Epi-Insight", "../x"),
    "dup-1": ordered("Omni-Health", "P-1")
  },
  // A patients document for the unsafe id too, so only the path check stands in the way.
  patients: { "P-1": { name: "Ada Lovelace" }, "../x": { name: "Mallory" } }
}

const start = (t: TestRoot) => {
  const config = integrationConfig(t)
  // Gen-Decoder cools for a day: the Data Ready order just waits.
  return startAllocator({
    config,
    ports: memoryPorts(SEED),
    executor: plainExecutor(config),
    tunables: { ...FAST, SANDBOX_ENABLED: 0, COOLDOWN_SECONDS: 86400 }
  })
}

/** Every file and directory under `dir`, relative, sorted. */
const tree = (dir: string): ReadonlyArray<string> =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true, encoding: "utf8" })
        .map((p) => p.split("\\").join("/"))
        .sort()
    : []

const manualAddMails = Effect.flatMap(CapturedMail, (m) => m.messages).pipe(
  Effect.map((all) => all.filter((m) => m.subject.includes("Manual add")))
)

const commandLog = Effect.flatMap(CommandLog, (log) => log.recent(100))

const REFUSALS = [
  { name: "an unknown report id", doc: "nope-1", message: "report nope-1 does not exist" },
  { name: "a report that is already Data Ready", doc: "ready-1", message: "report ready-1 is already Data Ready" },
  { name: "an unmanaged service", doc: "bio-1", message: 'service "Bio-Age" is not managed here' },
  { name: "a patient without a patients document", doc: "nopat-1", message: "patient P-404 has no patients document" },
  { name: 'patientId "../x"', doc: "evil-1", message: 'patientId "../x" is missing or not a safe path segment' },
  { name: "a report id that is not a path segment", doc: "../evil", message: 'report id "../evil" is not a safe path segment' }
] as const

describe("Manual Add refusals through the command bus", () => {
  it.scopedLive.each(REFUSALS)(
    "refuses $name, and writes nothing anywhere",
    ({ doc, message }) =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const { run } = yield* start(t)
          // The Data Ready order has arrived and is cooling: the allocator is up.
          yield* run(waitForState("ready-1", "waiting_cooldown"))

          const result = yield* run(execute({ _tag: "manual_add", doc }))
          expect(result).toEqual({ ok: false, message })
          expect(yield* run(holds)).toEqual([])
          expect(yield* run(manualAddMails)).toEqual([])
          const logged = (yield* run(commandLog)).find((r) => r.name === "manual_add")
          expect(logged).toMatchObject({ user: "tester", status: "refused", result: message, args: JSON.stringify({ doc }) })

          // Nothing in the patient trees, nothing beside them (`<base>/../x` is `<root>/x`).
          expect(tree(join(t.root, "base"))).toEqual([])
          expect(tree(join(t.root, "user"))).toEqual([])
          expect(readdirSync(t.root).sort()).toEqual(["base", "bin", "data", "home", "pipelines", "user"])
          // The data dir holds the database and the execution host's own socket, (empty) run records, (empty)
          // acknowledged records and its monitors' exit slots.
          expect(tree(join(t.root, "data")).filter((p) => !p.startsWith("allocator.db"))).toEqual([
            "exechost",
            "exechost.sock",
            "exechost/acked",
            "exechost/exits",
            "exechost/runs"
          ])
        })
      ),
    TIMEOUT
  )

  it.scopedLive(
    "refuses a second Manual Add while the first hold is holding",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const { run } = yield* start(t)

          expect(yield* run(execute({ _tag: "manual_add", doc: "dup-1" }))).toEqual({ ok: true, message: "hold created for dup-1" })
          const again = yield* run(execute({ _tag: "manual_add", doc: "dup-1" }))
          expect(again).toEqual({ ok: false, message: "report dup-1 is already on hold" })

          expect((yield* run(holds)).map((h) => [h.doc_id, h.state])).toEqual([["dup-1", "holding"]])
          expect(tree(join(t.root, "base"))).toEqual(["P-1", "P-1/dup-1", "P-1/dup-1/patient_info.json"])
          expect(tree(join(t.root, "user"))).toEqual(["P-1", "P-1/dup-1", "P-1/dup-1/patient_info.json"])
          expect(readdirSync(t.root).sort()).toEqual(["base", "bin", "data", "home", "pipelines", "user"])
          // One email for the one hold.
          const sent = yield* run(eventually("the manual_add email", Effect.map(manualAddMails, (m) => (m.length > 0 ? m : undefined))))
          expect(sent).toHaveLength(1)
          expect(sent[0]?.to).toEqual(["lab@lab.test"])
          const logged = (yield* run(commandLog)).filter((r) => r.name === "manual_add").map((r) => r.status)
          expect(logged).toEqual(["refused", "ok"])
        })
      ),
    TIMEOUT
  )
})
