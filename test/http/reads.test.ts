/**
 * Every dashboard read, against an allocator driven into each interesting
 * state through its front door (Firestore documents, scripted pipelines,
 * commands over HTTP).
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { expect, it as plain, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { type CooldownRow, DashboardReads, SEARCH_INDEX_SQL } from "../../kernel/store/reads.ts"

const DROP_SEARCH_INDEX = [
  "DROP TRIGGER job_runs_search_ai",
  "DROP TRIGGER job_runs_search_ad",
  "DROP TRIGGER job_runs_search_au",
  "DROP TABLE job_runs_search"
]
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import { cooldownKind } from "../../kernel/http/handlers/dashboard.ts"
import { Outage } from "../../kernel/outage.ts"
import { runLogFile } from "../../kernel/paths.ts"
import {
  arrive,
  type Client,
  eventually,
  exitAfter,
  hang,
  lastOf,
  send,
  serverLayer,
  signIn,
  statesOf,
  TestServer,
  waitRuns
} from "./support.ts"

interface Page {
  readonly items: ReadonlyArray<{ id: number; doc_id: string; state: string; service: string; patient_id: string | null }>
  readonly nextCursor: number | null
}

const page = (client: Client, query: string) =>
  Effect.map(client.get(`/api/jobs${query}`), (r) => {
    expect(r.status, r.text).toBe(200)
    return r.body as Page
  })

const OK_DOCS = ["rd-ok-1", "rd-ok-2", "rd-ok-3", "rd-ok-4", "rd-ok-5"]

plain("cooldownKind: a note wins, then the previous row's state, then the attempt", () => {
  const row = (notes: string | null, previous: CooldownRow["previous_state"], attempt = 1) =>
    ({ notes, previous_state: previous, attempt }) as CooldownRow
  expect(cooldownKind(row("sync_retry", "failed_sync"))).toBe("sync_retry")
  expect(cooldownKind(row("ocr_rerun", "succeeded"))).toBe("ocr_rerun")
  expect(cooldownKind(row(null, "temp_failed"))).toBe("temp_fail_delay")
  expect(cooldownKind(row(null, "failed_retrying", 2))).toBe("retry_delay")
  expect(cooldownKind(row(null, null, 3))).toBe("retry_delay")
  expect(cooldownKind(row(null, null))).toBe("fresh_hold")
  expect(cooldownKind(row(null, "failed_permanent"))).toBe("fresh_hold")
})

layer(serverLayer(), { excludeTestServices: true })("dashboard reads", (it) => {
  it.effect("setup: documents in every kind of state", () =>
    Effect.gen(function* () {
      const admin = yield* signIn("admin")
      const fs = yield* MemoryFirestore
      // A failed sync needs the last attempt to fail while its Failed write does too.
      expect((yield* admin.put("/api/tunables", { values: { MAX_RETRIES: 1, KILL_GRACE_MS: 0 } })).status).toBe(200)
      yield* fs.setWriteFailure("rd-sync", true)
      yield* arrive("rd-sync", "Epi-Insight", "PAT-Sync-01", [exitAfter(1)])
      yield* waitRuns(admin, "rd-sync", (runs) => statesOf(runs).join() === "failed_sync,waiting_cooldown")
      expect((yield* admin.put("/api/tunables", { values: { MAX_RETRIES: 3 } })).status).toBe(200)

      yield* arrive("rd-retry", "Epi-Insight", "PAT-Retry-01", [exitAfter(1)])
      yield* waitRuns(admin, "rd-retry", (runs) => statesOf(runs).join() === "failed_retrying,waiting_cooldown")
      yield* arrive("rd-temp", "Omni-Health", "PAT-Temp-01", [exitAfter(75)])
      yield* waitRuns(admin, "rd-temp", (runs) => statesOf(runs).join() === "temp_failed,waiting_cooldown")
      yield* arrive("rd-fresh", "Gen-Decoder", "PAT-Fresh-01", [exitAfter(0)])
      yield* waitRuns(admin, "rd-fresh", (runs) => statesOf(runs).join() === "waiting_cooldown")
      for (const [i, doc] of OK_DOCS.entries()) {
        yield* arrive(doc, i % 2 === 0 ? "Epi-Insight" : "Omni-Health", `PAT-Alpha-0${i}`, [exitAfter(0, 10 + i * 10)])
        yield* waitRuns(admin, doc, (runs) => lastOf(runs)?.state === "succeeded")
      }
      yield* arrive("rd-perm", "Epi-Insight", "PAT-Perm-01", [hang])
      const running = yield* waitRuns(admin, "rd-perm", (runs) => lastOf(runs)?.state === "running")
      expect((yield* admin.post(`/api/runs/${lastOf(running)?.id ?? 0}/kill`)).status).toBe(200)
      yield* waitRuns(admin, "rd-perm", (runs) => lastOf(runs)?.state === "failed_permanent")

      yield* fs.setPatient("PAT-Hold-01", { name: "Held" })
      yield* fs.setReport("rd-hold", { status: "Ordered", service: "Gen-Decoder", patientId: "PAT-Hold-01" })
      const added = yield* admin.post("/api/manual-add", { docs: ["rd-hold"] })
      expect((added.body as { ok: boolean }).ok).toBe(true)
    })
  )

  it.effect("state cards count each state; Waiting = cooldowns + sync retries + manual holds", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const cards = (yield* viewer.get("/api/state-cards")).body
      expect(cards).toEqual({
        counts: {
          received: 0,
          waiting_cooldown: 4,
          queued: 0,
          running: 0,
          succeeded: 5,
          failed_retrying: 1,
          temp_failed: 1,
          failed_sync: 1,
          failed_permanent: 1
        },
        running: 0,
        queued: 0,
        waiting: { total: 5, cooldown: 3, syncRetry: 1, manualHolds: 1 },
        succeeded: 5,
        retrying: 2,
        failed: 1,
        // rd-perm was killed by an operator: failed, but ended on purpose, so nobody needs to look at it.
        needsHuman: 0,
        failedSync: 1,
        outage: false
      })
    })
  )

  it.effect("the process queue: holds first, then cooling rows with due time and kind", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const queue = (yield* viewer.get("/api/process-queue")).body as {
        items: ReadonlyArray<{ _tag: string; doc: string; kind?: string; dueAt?: string; attempt?: number; createdBy?: string }>
      }
      expect(queue.items[0]).toMatchObject({
        _tag: "hold",
        doc: "rd-hold",
        service: "Gen-Decoder",
        createdBy: "ada",
        // The report has no patientName; the patients document's name is shown instead.
        patientName: "Held"
      })
      const cooling = queue.items.slice(1)
      expect(Object.fromEntries(cooling.map((c) => [c.doc, [c.kind, c.attempt]]))).toEqual({
        "rd-sync": ["sync_retry", 1],
        "rd-retry": ["retry_delay", 2],
        "rd-temp": ["temp_fail_delay", 1],
        "rd-fresh": ["fresh_hold", 1]
      })
      const due = cooling.map((c) => c.dueAt ?? "")
      expect([...due].sort()).toEqual(due)
    })
  )

  it.effect("jobs list: filters by state, service and date", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const succeeded = yield* page(viewer, "?state=succeeded")
      expect(succeeded.items.map((r) => r.doc_id)).toEqual([...OK_DOCS].reverse())
      const retrying = yield* page(viewer, "?state=failed_retrying,temp_failed")
      expect(retrying.items.map((r) => r.state).sort()).toEqual(["failed_retrying", "temp_failed"])
      const cooling = yield* page(viewer, "?state=waiting_cooldown&service=Gen-Decoder")
      expect(cooling.items.map((r) => r.doc_id)).toEqual(["rd-fresh"])
      const all = yield* page(viewer, "?limit=200")
      expect(all.items.length).toBe(13)
      const ids = all.items.map((r) => r.id)
      expect([...ids].sort((a, b) => b - a)).toEqual(ids)
      const today = (all.items[0] as unknown as { created_at: string }).created_at.slice(0, 10)
      const tomorrow = new Date(Date.parse(today) + 86_400_000).toISOString().slice(0, 10)
      const yesterday = new Date(Date.parse(today) - 86_400_000).toISOString().slice(0, 10)
      expect((yield* page(viewer, `?from=${today}&limit=200`)).items.length).toBe(13)
      expect((yield* page(viewer, `?to=${today}&limit=200`)).items.length).toBe(13)
      expect((yield* page(viewer, `?from=${tomorrow}`)).items).toEqual([])
      expect((yield* page(viewer, `?to=${yesterday}`)).items).toEqual([])
    })
  )

  it.effect("jobs search: doc id or patient id, case-insensitive, prefix or substring", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const docs = (q: string) => Effect.map(page(viewer, `?limit=200&q=${encodeURIComponent(q)}`), (p) => p.items.map((r) => r.doc_id))
      expect(new Set(yield* docs("RD-OK"))).toEqual(new Set(OK_DOCS))
      expect(yield* docs("ok-3")).toEqual(["rd-ok-3"])
      expect(new Set(yield* docs("alpha"))).toEqual(new Set(OK_DOCS))
      expect(yield* docs("pat-alpha-04")).toEqual(["rd-ok-5"])
      expect(yield* docs("sync-0")).toEqual(["rd-sync", "rd-sync"])
      expect(yield* docs("%")).toEqual([])
      expect(yield* docs("_")).toEqual([])
      expect(yield* docs("zzz-nothing")).toEqual([])
      const succeededAlpha = yield* page(viewer, "?q=ALPHA&state=succeeded&service=Omni-Health")
      expect(succeededAlpha.items.map((r) => r.doc_id)).toEqual(["rd-ok-4", "rd-ok-2"])
    })
  )

  it.effect("jobs pages by id: every row once, newest first, until nextCursor is null", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const seen: Array<number> = []
      let cursor: number | null = null
      let pages = 0
      do {
        const p: Page = yield* page(viewer, `?limit=3${cursor === null ? "" : `&cursor=${cursor}`}`)
        seen.push(...p.items.map((r) => r.id))
        cursor = p.nextCursor
        pages += 1
      } while (cursor !== null && pages < 20)
      expect(pages).toBe(5)
      expect(seen.length).toBe(13)
      expect(new Set(seen).size).toBe(13)
      expect([...seen].sort((a, b) => b - a)).toEqual(seen)
    })
  )

  it.effect("the drawer: every attempt, the Firestore document now, each attempt's log", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const { config } = yield* TestServer
      const before = (yield* viewer.get("/api/docs/rd-retry")).body as {
        runs: ReadonlyArray<{ id: number; attempt: number }>
      }
      const first = before.runs[0]
      expect(first).toBeDefined()
      const file = runLogFile(config.dataDir, "rd-retry", first?.id ?? 0, first?.attempt ?? 0)
      mkdirSync(dirname(file), { recursive: true })
      const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} ${"x".repeat(20)}`)
      writeFileSync(file, `${lines.join("\n")}\n`)

      const drawer = (yield* viewer.get("/api/docs/rd-retry")).body as {
        doc: string
        runs: ReadonlyArray<{ state: string }>
        holds: ReadonlyArray<unknown>
        firestore: { status: string; data: { status: string; patientId: string } }
        logs: ReadonlyArray<{ run: number; attempt: number; exists: boolean; truncated: boolean; size: number; content: string }>
      }
      expect(drawer.doc).toBe("rd-retry")
      expect(statesOf(drawer.runs as never)).toEqual(["failed_retrying", "waiting_cooldown"])
      expect(drawer.firestore).toMatchObject({ status: "found", data: { status: "Data Ready", patientId: "PAT-Retry-01" } })
      expect(drawer.logs.map((l) => [l.attempt, l.exists])).toEqual([
        [1, true],
        [2, false]
      ])
      const log = drawer.logs[0]
      expect(log?.truncated).toBe(true)
      expect(log?.content.startsWith("line ")).toBe(true)
      expect(log?.content.endsWith("line 4999 xxxxxxxxxxxxxxxxxxxx\n")).toBe(true)
      expect(log?.content.length).toBeLessThanOrEqual(64 * 1024)

      const full = (yield* viewer.get(`/api/runs/${first?.id ?? 0}/log`)).body as { truncated: boolean; size: number; content: string }
      expect(full.truncated).toBe(false)
      expect(full.content.split("\n").length).toBe(5001)

      const hold = (yield* viewer.get("/api/docs/rd-hold")).body as { runs: ReadonlyArray<unknown>; holds: ReadonlyArray<{ state: string }> }
      expect(hold.runs).toEqual([])
      expect(hold.holds.map((h) => h.state)).toEqual(["holding"])
    })
  )

  it.effect("tunables: default, current, range, restart flag, last change", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const list = (yield* viewer.get("/api/tunables")).body as {
        items: ReadonlyArray<{ key: string; default: number; current: number; min: number; max: number; restartRequired: boolean; updatedBy: string | null }>
        effectiveMaxWorkers: number
      }
      expect(list.items.length).toBe(17)
      expect(list.items.find((t) => t.key === "MAX_RETRIES")).toMatchObject({
        default: 3,
        current: 3,
        min: 1,
        max: 100,
        restartRequired: false,
        updatedBy: "ada"
      })
      expect(list.items.find((t) => t.key === "SANDBOX_ENABLED")).toMatchObject({ restartRequired: true, updatedBy: null })
      expect(list.effectiveMaxWorkers).toBe(1)
    })
  )

  it.effect("the audit log and the notifications log page newest first", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const first = (yield* viewer.get("/api/commands?limit=2")).body as {
        items: ReadonlyArray<{ id: number; user: string; name: string; status: string }>
        nextCursor: number | null
      }
      expect(first.items.map((e) => e.name)).toEqual(["manual_add", "kill"])
      expect(first.items[0]).toMatchObject({ user: "ada", status: "ok" })
      expect(first.nextCursor).not.toBeNull()
      const rest = (yield* viewer.get(`/api/commands?limit=50&cursor=${first.nextCursor ?? 0}`)).body as {
        items: ReadonlyArray<{ name: string }>
        nextCursor: number | null
      }
      expect(rest.items.map((e) => e.name)).toEqual(["set_tunable", "set_tunable", "set_tunable"])
      expect(rest.nextCursor).toBeNull()

      const notes = (yield* eventually(
        viewer.get("/api/notifications"),
        (r) => ((r.body as { items: ReadonlyArray<unknown> }).items.length >= 3 ? r : undefined)
      )).body as { items: ReadonlyArray<{ template: string; doc: string | null; status: string }> }
      const seen = notes.items.map((n) => `${n.template}:${n.doc}`)
      expect(seen).toContain("permanent_failure:rd-sync")
      expect(seen).toContain("upload_reminder:rd-fresh")
      expect(seen).toContain("manual_add:rd-hold")
    })
  )

  it.effect("health: cached results, refreshed on demand", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const first = (yield* viewer.get("/api/health")).body as {
        checks: ReadonlyArray<{ name: string; ok: boolean; detail: string; checkedAt: string }>
      }
      expect(first.checks.map((c) => [c.name, c.ok])).toEqual([
        ["firestore", true],
        ["gemini", false],
        ["ocr", false]
      ])
      expect(first.checks[1]?.detail).toMatch(/geminiEnvFile/)
      const cached = (yield* viewer.get("/api/health")).body as typeof first
      expect(cached.checks.map((c) => c.checkedAt)).toEqual(first.checks.map((c) => c.checkedAt))
      yield* Effect.sleep("5 millis")
      const refreshed = (yield* viewer.post("/api/health/refresh?name=firestore")).body as typeof first
      expect(refreshed.checks[0]?.checkedAt).not.toBe(first.checks[0]?.checkedAt)
      expect(refreshed.checks[1]?.checkedAt).toBe(first.checks[1]?.checkedAt)
    })
  )

  it.effect("charts for a week and a month", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const week = (yield* viewer.get("/api/charts")).body as {
        range: string
        timezone: string
        days: ReadonlyArray<string>
        finishedByOutcome: ReadonlyArray<{ day: string; succeeded: number; failed_retrying: number; failed_permanent: number }>
        durationByService: ReadonlyArray<{ service: string; runs: number; avgSeconds: number }>
        failuresByService: ReadonlyArray<{ service: string; total: number }>
        queueDepth: ReadonlyArray<{ at: string; waiting: number; queued: number; running: number }>
      }
      expect(week.range).toBe("7d")
      expect(week.timezone).toBe("UTC")
      expect(week.days.length).toBe(7)
      const today = week.finishedByOutcome[week.finishedByOutcome.length - 1]
      expect(today).toMatchObject({ succeeded: 5, failed_retrying: 1, failed_permanent: 1 })
      expect(week.durationByService.reduce((n, d) => n + d.runs, 0)).toBeGreaterThanOrEqual(8)
      expect(week.failuresByService.find((f) => f.service === "Epi-Insight")?.total).toBe(3)
      expect(week.failuresByService.find((f) => f.service === "Omni-Health")?.total).toBe(1)
      expect(week.queueDepth.length).toBe(56)
      expect(week.queueDepth[week.queueDepth.length - 1]).toMatchObject({ waiting: 4, queued: 0, running: 0 })
      const month = (yield* viewer.get("/api/charts?range=30d")).body as typeof week
      expect(month.days.length).toBe(30)
      expect(month.queueDepth.length).toBe(60)
    })
  )

  it.effect("sysadmin snippets come from this server's configuration", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const { config } = yield* TestServer
      const { snippets } = (yield* viewer.get("/api/sysadmin")).body as {
        snippets: ReadonlyArray<{ id: string; command: string }>
      }
      expect(snippets.map((s) => s.id)).toEqual(
        expect.arrayContaining(["restart", "logs", "run-logs", "sandbox-off", "scratch-cleanup", "backup", "ready"])
      )
      expect(snippets.find((s) => s.id === "sandbox-off")?.command).toContain(`${config.dataDir}/allocator.db`)
      expect(snippets.find((s) => s.id === "scratch-cleanup")?.command).toContain(config.sandbox.scratchRoot)
    })
  )

  it.effect("/healthz, /readyz and /metrics need no session", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      const healthz = yield* send(base, "GET", "/healthz")
      expect([healthz.status, healthz.text]).toEqual([200, "ok\n"])
      const ready = yield* send(base, "GET", "/readyz")
      expect(ready.body).toEqual({ ready: true, database: "ok", outage: false })
      const metrics = yield* send(base, "GET", "/metrics")
      expect(metrics.status).toBe(200)
      expect(metrics.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/)
      expect(metrics.text).toContain('lomi_jobs{state="succeeded"} 5')
      expect(metrics.text).toContain('lomi_queue_depth{queue="manual_hold"} 1')
      expect(metrics.text).toContain('lomi_queue_depth{queue="sync_retry"} 1')
      expect(metrics.text).toMatch(/lomi_job_transitions_total\{from="queued",to="running"\} \d+/)
      expect(metrics.text).toMatch(/lomi_run_duration_seconds_count\{service="Epi-Insight"\} \d+/)
      expect(metrics.text).toMatch(/lomi_firestore_write_errors_total [1-9]/)
      expect(metrics.text).toContain("lomi_firestore_outage 0")
    })
  )

  it.effect("during a Firestore outage the dashboard keeps answering and shows it", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const { base } = yield* TestServer
      const fs = yield* MemoryFirestore
      const outage = yield* Outage
      yield* fs.setOutage(true)
      yield* outage.enter
      const ready = yield* send(base, "GET", "/readyz")
      expect(ready.body).toEqual({ ready: true, database: "ok", outage: true })
      expect(((yield* viewer.get("/api/state-cards")).body as { outage: boolean }).outage).toBe(true)
      expect((yield* send(base, "GET", "/metrics")).text).toContain("lomi_firestore_outage 1")
      const drawer = (yield* viewer.get("/api/docs/rd-retry")).body as { firestore: { status: string; error: string } }
      expect(drawer.firestore.status).toBe("unreachable")
      const health = (yield* viewer.post("/api/health/refresh?name=firestore")).body as {
        checks: ReadonlyArray<{ ok: boolean; detail: string }>
      }
      expect(health.checks[0]?.ok).toBe(false)
      expect(health.checks[0]?.detail).toMatch(/unreachable/)
      yield* fs.setOutage(false)
      yield* eventually(send(base, "GET", "/readyz"), (r) => ((r.body as { outage: boolean }).outage ? undefined : r))
    })
  )

  it.effect("OpenAPI JSON and the docs page are public", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      const spec = yield* send(base, "GET", "/api/openapi.json")
      expect(spec.status).toBe(200)
      const paths = Object.keys((spec.body as { paths: Record<string, unknown> }).paths)
      expect(paths).toContain("/api/jobs")
      expect(paths).toContain("/api/runs/{run}/kill")
      const docs = yield* send(base, "GET", "/api/docs")
      expect(docs.status).toBe(200)
      expect(docs.text).toMatch(/swagger/i)
      expect(docs.headers.get("x-content-type-options")).toBe("nosniff")
    })
  )

  it.effect("with the proposed trigram index, search answers exactly as the scan does", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const queries = ["RD-OK", "ok-3", "alpha", "pat-alpha-04", "sync-0", "zzz-nothing", "rd", "ALPHA&state=succeeded&service=Omni-Health"]
      const run = Effect.forEach(queries, (q) => Effect.map(page(viewer, `?limit=200&q=${q}`), (p) => p.items.map((r) => r.id)))
      const paged = Effect.gen(function* () {
        const ids: Array<number> = []
        let cursor: number | null = null
        do {
          const p: Page = yield* page(viewer, `?q=rd-&limit=4${cursor === null ? "" : `&cursor=${cursor}`}`)
          ids.push(...p.items.map((r) => r.id))
          cursor = p.nextCursor
        } while (cursor !== null)
        return ids
      })
      // Migration 2 built the index; take it away to get the scan's answers, then build it again.
      const sql = yield* SqlClient.SqlClient
      for (const statement of DROP_SEARCH_INDEX) yield* sql.unsafe(statement)
      expect(yield* (yield* DashboardReads).hasSearchIndex).toBe(false)
      const scanned = yield* run
      const scannedPages = yield* paged
      for (const statement of SEARCH_INDEX_SQL) yield* sql.unsafe(statement)
      expect(yield* (yield* DashboardReads).hasSearchIndex).toBe(true)
      expect(yield* run).toEqual(scanned)
      expect(yield* paged).toEqual(scannedPages)
      // Rows inserted after the index was built are found too (the insert trigger).
      yield* arrive("rd-late-Zeta", "Epi-Insight", "PAT-Late-01", [exitAfter(0)])
      yield* waitRuns(viewer, "rd-late-Zeta", (runs) => lastOf(runs)?.state === "succeeded")
      expect((yield* page(viewer, "?q=late-zeta")).items.map((r) => r.doc_id)).toEqual(["rd-late-Zeta"])
    })
  )

  it.effect("without a built dashboard, / says where the API docs are", () =>
    Effect.gen(function* () {
      const { base } = yield* TestServer
      const root = yield* send(base, "GET", "/")
      expect(root.status).toBe(200)
      expect(root.text).toContain("/api/docs")
    })
  )

  it.effect("identical jobs requests at once get one answer; a request after a change sees the change at once", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const before = yield* Effect.all(
        Array.from({ length: 16 }, () => page(viewer, "?limit=5&state=succeeded")),
        { concurrency: "unbounded" }
      )
      const first = before[0]?.items.map((r) => r.id) ?? []
      expect(first.length).toBe(5)
      for (const p of before) expect(p.items.map((r) => r.id)).toEqual(first)
      // The new row exists (seen through the drawer, another route); the very next page must list it.
      yield* arrive("rd-fresh-1", "Epi-Insight", "PAT-Fresh-01", [exitAfter(0)])
      yield* waitRuns(viewer, "rd-fresh-1", (runs) => lastOf(runs)?.state === "succeeded")
      const after = yield* page(viewer, "?limit=5&state=succeeded")
      expect(after.items[0]?.doc_id).toBe("rd-fresh-1")
    })
  )
})
