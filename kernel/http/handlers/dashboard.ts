/** The dashboard's reads: cards, jobs, the drawer, the process queue, logs, health, charts. */
import { HttpApiBuilder } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Either, Option, Stream } from "effect"
import {
  Api,
  BadRequest,
  type CooldownKind,
  type JobsQuery,
  NotFound,
  type ProcessQueue,
  type StateCards
} from "../../../schemas/api.ts"
import type { StaticConfig } from "../../../schemas/config.ts"
import { ACTIVE_STATES, type JobState, TERMINAL_STATES } from "../../../schemas/job.ts"
import { effectiveMaxWorkers, TUNABLE_KEYS, TUNABLES } from "../../../schemas/tunables.ts"
import { Outage } from "../../outage.ts"
import { FirestorePort } from "../../ports/firestore.ts"
import { JobStore } from "../../store/jobs.ts"
import { type CooldownRow, DashboardReads, type JobFilter } from "../../store/reads.ts"
import { TunableStore } from "../../store/tunables.ts"
import { isoFromMillis } from "../../time.ts"
import { chartWindow, computeCharts } from "../charts.ts"
import { HealthChecks } from "../health.ts"
import { csvResponse, jobsCsvStream } from "../jobsCsv.ts"
import { countNeedsHuman, listNeedsHuman } from "../needsHuman.ts"
import { singleFlight } from "../singleFlight.ts"
import { docTimeline } from "../timeline.ts"
import { DRAWER_LOG_BYTES, FULL_LOG_BYTES, readRunLog } from "../logs.ts"
import { renderSnippets } from "../snippets.ts"

const ALL_STATES: ReadonlyArray<JobState> = [...ACTIVE_STATES, ...TERMINAL_STATES]
const DAY_MS = 86_400_000
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/

/** Why a cooling row is cooling: its note, else the state of the row before it. */
export const cooldownKind = (row: CooldownRow): CooldownKind => {
  if (row.notes === "sync_retry") return "sync_retry"
  if (row.notes === "ocr_rerun") return "ocr_rerun"
  if (row.previous_state === "temp_failed") return "temp_fail_delay"
  if (row.previous_state === "failed_retrying" || row.attempt > 1) return "retry_delay"
  return "fresh_hold"
}

/** The query as the store takes it: instants normalised to stored form, a plain `to` date made inclusive. */
export const jobFilter = (q: JobsQuery): Either.Either<JobFilter, string> => {
  const from = q.from === undefined ? undefined : isoFromMillis(Date.parse(q.from))
  const to =
    q.to === undefined
      ? undefined
      : isoFromMillis(Date.parse(q.to) + (DATE_ONLY.test(q.to) ? DAY_MS : 0))
  if (from !== undefined && to !== undefined && from >= to) {
    return Either.left(`from (${q.from}) must be before to (${q.to})`)
  }
  return Either.right({
    states: q.state,
    service: q.service,
    from,
    to,
    q: q.q,
    cursor: q.cursor,
    limit: q.limit ?? 50
  })
}

/** A jobs filter as a single-flight key: equal filters, equal keys (states in the order asked). */
export const pageKey = (f: JobFilter): string =>
  JSON.stringify([f.states ?? null, f.service ?? null, f.from ?? null, f.to ?? null, f.q ?? null, f.cursor ?? null, f.limit])

const parseArgs = (args: string): unknown => {
  try {
    return JSON.parse(args)
  } catch {
    return args
  }
}

export const dashboardLive = (config: StaticConfig) =>
  HttpApiBuilder.group(Api, "dashboard", (handlers) =>
    Effect.gen(function* () {
      const reads = yield* DashboardReads
      const jobs = yield* JobStore
      const tunables = yield* TunableStore
      const outage = yield* Outage
      const port = yield* FirestorePort
      const health = yield* HealthChecks
      const sql = yield* SqlClient.SqlClient
      const withSql = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
        Effect.provideService(effect, SqlClient.SqlClient, sql)

      /**
       * Identical jobs queries in flight at the same moment share one database
       * read (single flight): under many clients the first page of each filter
       * is asked for over and over. Nothing is kept once answered, so no
       * request sees rows older than its own arrival by more than the one read
       * it joined, and no page outlives its answer (kernel/http/singleFlight.ts).
       */
      const jobPages = singleFlight(pageKey, (filter: JobFilter) => reads.listJobs(filter))

      /**
       * A hold's patient name, as the cooldown rows show it: the report's
       * patientName, else the patients document's name. Read from Firestore
       * once per held document; a failed read shows no name and is tried again
       * next time.
       */
      const holdNames = new Map<string, string | null>()
      const textField = (data: Readonly<Record<string, unknown>> | undefined, key: string) => {
        const value = data?.[key]
        return typeof value === "string" && value !== "" ? value : null
      }
      const holdName = (doc: string, patientId: string) =>
        holdNames.has(doc)
          ? Effect.succeed(holdNames.get(doc) ?? null)
          : Effect.gen(function* () {
              const report = yield* port.getReport(doc)
              const fromReport = textField(report, "patientName")
              const name = fromReport ?? textField(yield* port.getPatient(patientId), "name")
              holdNames.set(doc, name)
              return name
            }).pipe(
              Effect.timeout("2 seconds"),
              Effect.catchAll(() => Effect.succeed(null))
            )

      return handlers
        .handle("stateCards", () =>
          Effect.gen(function* () {
            const s = yield* reads.stateCounts
            const n = (state: JobState) => s.counts.get(state) ?? 0
            const counts = Object.fromEntries(ALL_STATES.map((state) => [state, n(state)])) as Record<JobState, number>
            const cooling = n("waiting_cooldown")
            const cards: StateCards = {
              counts,
              running: n("running"),
              queued: n("queued"),
              waiting: {
                total: cooling + s.holding,
                cooldown: cooling - s.syncRetry,
                syncRetry: s.syncRetry,
                manualHolds: s.holding
              },
              succeeded: n("succeeded"),
              retrying: n("failed_retrying") + n("temp_failed"),
              failed: n("failed_permanent"),
              needsHuman: yield* withSql(countNeedsHuman),
              failedSync: n("failed_sync"),
              outage: yield* outage.isDown
            }
            return cards
          })
        )
        .handle("listJobs", ({ urlParams }) =>
          Either.match(jobFilter(urlParams), {
            onLeft: (message) => Effect.fail(new BadRequest({ message })),
            onRight: (filter) => jobPages.run(filter)
          })
        )
        .handle("docDrawer", ({ path }) =>
          Effect.gen(function* () {
            const runs = yield* jobs.rowsForDoc(path.doc)
            const holds = yield* reads.holdsForDoc(path.doc)
            const report = yield* Effect.either(port.getReport(path.doc))
            const firestore = Either.match(report, {
              onLeft: (e) => ({ status: "unreachable" as const, data: null, error: e.message }),
              onRight: (data) =>
                data === undefined
                  ? { status: "missing" as const, data: null, error: null }
                  : { status: "found" as const, data, error: null }
            })
            if (runs.length === 0 && holds.length === 0 && firestore.status === "missing") {
              return yield* new NotFound({ message: `no runs, holds or Firestore report for ${path.doc}` })
            }
            const logs = yield* Effect.forEach(runs, (run) => readRunLog(config.dataDir, run, DRAWER_LOG_BYTES), {
              concurrency: 4
            })
            return { doc: path.doc, runs, holds, firestore, logs }
          })
        )
        .handle("runLog", ({ path }) =>
          Effect.gen(function* () {
            const run = yield* jobs.byId(path.run)
            if (Option.isNone(run)) return yield* new NotFound({ message: `no run ${path.run}` })
            return yield* readRunLog(config.dataDir, run.value, FULL_LOG_BYTES)
          })
        )
        .handle("processQueue", () =>
          Effect.gen(function* () {
            const holds = yield* reads.holding
            const cooling = yield* reads.cooldowns
            const held = new Set(holds.map((h) => h.doc_id))
            for (const doc of holdNames.keys()) if (!held.has(doc)) holdNames.delete(doc)
            const names = yield* Effect.forEach(holds, (h) => holdName(h.doc_id, h.patient_id), { concurrency: 8 })
            const queue: ProcessQueue = {
              items: [
                ...holds.map((h, i) => ({
                  _tag: "hold" as const,
                  hold: h.id,
                  doc: h.doc_id,
                  service: h.service,
                  patientId: h.patient_id,
                  patientName: names[i] ?? null,
                  createdAt: h.created_at,
                  createdBy: h.created_by
                })),
                ...cooling.map((r) => ({
                  _tag: "cooldown" as const,
                  run: r.id,
                  doc: r.doc_id,
                  service: r.service,
                  patientId: r.patient_id,
                  patientName: r.patient_name,
                  attempt: r.attempt,
                  dueAt: r.scheduled_run_at,
                  kind: cooldownKind(r),
                  previousState: r.previous_state,
                  notes: r.notes,
                  createdAt: r.created_at
                }))
              ]
            }
            return queue
          })
        )
        .handle("tunables", () =>
          Effect.gen(function* () {
            const current = yield* tunables.get
            const rows = new Map((yield* tunables.rows).map((r) => [r.key, r]))
            return {
              items: TUNABLE_KEYS.map((key) => {
                const spec = TUNABLES[key]
                const row = rows.get(key)
                return {
                  key,
                  description: spec.description,
                  default: spec.default,
                  current: current[key],
                  min: spec.min,
                  max: spec.max,
                  restartRequired: spec.restartRequired,
                  updatedAt: row?.updated_at ?? null,
                  updatedBy: row?.updated_by ?? null
                }
              }),
              effectiveMaxWorkers: effectiveMaxWorkers(current)
            }
          })
        )
        .handle("commandLog", ({ urlParams }) =>
          Effect.map(reads.commandLog(urlParams.cursor, urlParams.limit ?? 50), (page) => ({
            nextCursor: page.nextCursor,
            items: page.items.map((r) => ({
              id: r.id,
              at: r.at,
              user: r.user,
              name: r.name,
              args: parseArgs(r.args),
              status: r.status,
              result: r.result,
              finishedAt: r.finished_at
            }))
          }))
        )
        .handle("notifications", ({ urlParams }) =>
          Effect.map(reads.notifications(urlParams.cursor, urlParams.limit ?? 50), (page) => ({
            nextCursor: page.nextCursor,
            items: page.items.map((r) => ({
              id: r.id,
              at: r.at,
              template: r.template,
              doc: r.doc_id,
              recipients: r.recipients,
              status: r.status,
              error: r.error
            }))
          }))
        )
        .handle("health", () => Effect.map(health.get, (checks) => ({ checks })))
        .handle("refreshHealth", ({ urlParams }) => Effect.map(health.refresh(urlParams.name), (checks) => ({ checks })))
        .handle("charts", ({ urlParams }) =>
          Effect.gen(function* () {
            const range = urlParams.range ?? "7d"
            const now = yield* Clock.currentTimeMillis
            const window = chartWindow(now, range)
            const rows = yield* reads.chartRows(window.start, window.end)
            return computeCharts(rows, now, range, config.timezone)
          })
        )
        .handle("sysadmin", () => Effect.succeed({ snippets: renderSnippets(config) }))
        .handle("needsHuman", ({ urlParams }) => withSql(listNeedsHuman(urlParams.cursor, urlParams.limit ?? 50)))
        .handle("docTimeline", ({ path }) => withSql(docTimeline(path.doc)))
        .handle("jobsCsv", ({ urlParams }) =>
          Either.match(jobFilter({ ...urlParams }), {
            onLeft: (message) => Effect.fail(new BadRequest({ message })),
            onRight: ({ cursor: _cursor, limit: _limit, ...filter }) =>
              Effect.map(Effect.context<DashboardReads>(), (context) =>
                csvResponse(jobsCsvStream(filter).pipe(Stream.provideContext(context)), "lomi-jobs.csv")
              )
          })
        )
    })
  )
