/**
 * The notifier against a real SMTP server (smtp-server on a free loopback
 * port, no STARTTLS, no auth) through the live mailer, in a whole allocator
 * on the in-memory Firestore with the plain executor.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { StaticConfig } from "../../schemas/config.ts"
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import { parseMail, startSmtpServer } from "../mail/support.ts"
import {
  control,
  dataReady,
  execute,
  FAST,
  integrationConfig,
  notifications,
  plainExecutor,
  quiet,
  smtpPorts,
  startAllocator,
  tempRoot,
  type TestRoot,
  type TunableValues,
  waitForNotification,
  waitForState
} from "./support.ts"

const TIMEOUT = 60_000

/** Gen-Decoder cools for an hour: the arrival's email is all that happens. */
const TUNABLES: TunableValues = { ...FAST, SANDBOX_ENABLED: 0, COOLDOWN_SECONDS: 3600 }

const start = (t: TestRoot, smtpPort: number, edit: (c: StaticConfig) => StaticConfig = (c) => c, tunables: TunableValues = {}) => {
  const config = integrationConfig(t, (c) => edit({ ...c, mail: { ...c.mail, port: smtpPort } }))
  return startAllocator({ config, ports: smtpPorts(config), executor: plainExecutor(config), tunables: { ...TUNABLES, ...tunables } })
}

const arrive = (docId: string, service: string, extra: Record<string, unknown> = {}) =>
  Effect.flatMap(MemoryFirestore, (fs) =>
    fs.setReport(docId, dataReady(service, "P-7", { patientName: "Grace Hopper", ...extra }))
  )

describe("notifier over real SMTP", () => {
  it.scopedLive(
    "a Gen-Decoder arrival sends upload_reminder to the configured recipients with doc id, patient and dashboard link",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const server = yield* startSmtpServer()
          const { run } = yield* start(t, server.port)
          yield* run(arrive("gd-1", "Gen-Decoder"))

          const logged = yield* run(waitForNotification("upload_reminder", "gd-1"))
          expect(logged).toMatchObject({ status: "ok", error: null, recipients: "lab@lab.test, uploads@lab.test" })
          expect(server.received).toHaveLength(1)
          const got = server.received[0]
          expect(got?.from).toBe("allocator@lab.test")
          expect(got?.to).toEqual(["lab@lab.test", "uploads@lab.test"])
          const mail = parseMail(got?.raw ?? "")
          expect(mail.subject).toBe("[Lomi] Upload reminder: Gen-Decoder order gd-1, patient Grace Hopper (P-7)")
          for (const body of [mail.text, mail.html]) {
            expect(body).toContain("gd-1")
            expect(body).toContain("Grace Hopper (P-7)")
            expect(body).toContain("http://dash.test:8080/#/doc/gd-1")
          }
          const row = yield* run(waitForState("gd-1", "waiting_cooldown"))
          // Due COOLDOWN_SECONDS after arrival (the two times are separate clock readings).
          const cooldown = Date.parse(row.scheduled_run_at ?? "") - Date.parse(row.created_at)
          expect(cooldown).toBeGreaterThan(3590_000)
          expect(cooldown).toBeLessThanOrEqual(3600_000)
        })
      ),
    TIMEOUT
  )

  it.scopedLive(
    "a refusing server: notifications_log says failed with the SMTP error, and the job transitions still happened",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const server = yield* startSmtpServer({
            onRcptTo: (address, _session, callback) =>
              callback(Object.assign(new Error(`mailbox ${address.address} unavailable`), { responseCode: 550 }))
          })
          const { run } = yield* start(t, server.port, undefined, { MAX_RETRIES: 1 })
          control(t).exitWith("epi-1", 1)
          yield* run(arrive("gd-2", "Gen-Decoder"))
          yield* run(arrive("epi-1", "Epi-Insight"))

          const reminder = yield* run(waitForNotification("upload_reminder", "gd-2"))
          expect(reminder.status).toBe("failed")
          expect(reminder.error).toMatch(/all recipients were rejected: 550 mailbox \S+@lab\.test unavailable/)
          expect((yield* run(waitForState("gd-2", "waiting_cooldown"))).attempt).toBe(1)

          const failure = yield* run(waitForNotification("permanent_failure", "epi-1"))
          expect(failure.status).toBe("failed")
          expect(failure.error).toContain("550 mailbox ops@lab.test unavailable")
          const failed = yield* run(waitForState("epi-1", "failed_permanent"))
          expect(failed.error_message).toBe("pipeline exited with code 1 (attempt 1 of 1)")
          const reports = yield* run(Effect.flatMap(MemoryFirestore, (fs) => fs.snapshotReports))
          expect(reports.find((r) => r.id === "epi-1")?.data.status).toBe("Failed")
          expect(server.received).toEqual([])
        })
      ),
    TIMEOUT
  )

  it.scopedLive(
    "EMAIL_ENABLED=0 (set through the command bus): the send is logged skipped and nothing reaches the server",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const server = yield* startSmtpServer()
          const { run } = yield* start(t, server.port)
          const set = yield* run(execute({ _tag: "set_tunable", key: "EMAIL_ENABLED", value: 0 }))
          expect(set.ok).toBe(true)
          yield* run(arrive("gd-3", "Gen-Decoder"))

          const logged = yield* run(waitForNotification("upload_reminder", "gd-3"))
          expect(logged).toMatchObject({ status: "skipped", error: "EMAIL_ENABLED=0" })
          yield* run(waitForState("gd-3", "waiting_cooldown"))
          expect(server.received).toEqual([])
        })
      ),
    TIMEOUT
  )

  it.scopedLive(
    "no recipients for the template: logged skipped, nothing sent",
    () =>
      quiet(
        Effect.gen(function* () {
          const t = yield* tempRoot
          const server = yield* startSmtpServer()
          const { run } = yield* start(t, server.port, (c) => ({
            ...c,
            mail: { ...c.mail, recipients: { ...c.mail.recipients, upload_reminder: [] } }
          }))
          yield* run(arrive("gd-4", "Gen-Decoder"))

          const logged = yield* run(waitForNotification("upload_reminder", "gd-4"))
          expect(logged).toMatchObject({ status: "skipped", error: "no recipients configured", recipients: "" })
          expect(yield* run(notifications)).toHaveLength(1)
          expect(server.received).toEqual([])
        })
      ),
    TIMEOUT
  )
})
