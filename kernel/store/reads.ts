/**
 * Read-only queries for the dashboard. Nothing here writes; every state
 * change stays with the stores that guard it.
 *
 * The jobs list pages by id (keyset, newest first), so a page costs the same
 * wherever it starts. Two planner notes, measured on a million rows:
 *
 * - a filter on a terminal state is common, so the primary key is scanned
 *   (the `+state` term keeps SQLite off the state index, which would sort
 *   every matching row first); active states are few, so the index is used;
 * - a substring search cannot use a B-tree index. When the database has the
 *   trigram index `job_runs_search` (see SEARCH_INDEX_SQL) searches of three
 *   characters or more go through it; otherwise they scan.
 */
import { SqlClient, type SqlError, type Statement } from "@effect/sql"
import { Effect, Schema } from "effect"
import { ACTIVE_STATES, JobRun, JobState, ManualHold } from "../../schemas/job.ts"
import type { CommandLogRow } from "./commandLog.ts"
import type { NotificationRow } from "./notifications.ts"

export interface JobFilter {
  readonly states?: ReadonlyArray<JobState> | undefined
  readonly service?: string | undefined
  /** created_at >= from */
  readonly from?: string | undefined
  /** created_at < to */
  readonly to?: string | undefined
  readonly q?: string | undefined
  /** id < cursor */
  readonly cursor?: number | undefined
  readonly limit: number
}

export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly nextCursor: number | null
}

export interface StateCountRows {
  readonly counts: ReadonlyMap<string, number>
  readonly syncRetry: number
  readonly holding: number
}

const CooldownRow = Schema.extend(JobRun, Schema.Struct({ previous_state: Schema.NullOr(JobState) }))
export type CooldownRow = typeof CooldownRow.Type

const ChartRow = Schema.Struct({
  service: Schema.String,
  state: JobState,
  created_at: Schema.String,
  scheduled_run_at: Schema.NullOr(Schema.String),
  started_at: Schema.NullOr(Schema.String),
  finished_at: Schema.NullOr(Schema.String),
  updated_at: Schema.String
})
export type ChartRow = typeof ChartRow.Type

const Count = Schema.Array(Schema.Struct({ n: Schema.Number }))
const StateCount = Schema.Array(Schema.Struct({ state: Schema.String, n: Schema.Number }))

/**
 * Rows decoded with their schema, never cast: a row that does not match is a
 * defect. Synchronous decoders returning Either (itself an Effect): the
 * Effect decoders took a fiber step per value, a large share of a jobs
 * page's cost under dashboard load.
 */
const decoded = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(Schema.Array(schema))
  return (statement: Effect.Effect<ReadonlyArray<unknown>, SqlError.SqlError>) => Effect.flatMap(statement, decode)
}
const runs = decoded(JobRun)
const decodeCount = Schema.decodeUnknownEither(Count)
const counts = (statement: Effect.Effect<ReadonlyArray<unknown>, SqlError.SqlError>) =>
  Effect.map(Effect.flatMap(statement, decodeCount), (rows) => rows[0]?.n ?? 0)

/**
 * The trigram search index the jobs search uses when present. Proposed as a
 * numbered migration (kernel/store/migrations.ts is not this module's); the
 * benchmark applies it to show the difference.
 */
export { SEARCH_INDEX_SQL } from "./migrations.ts"

const likePattern = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
/** An FTS5 phrase: the text, quoted, so nothing in it is query syntax. */
const ftsPhrase = (q: string) => `"${q.replace(/"/g, '""')}"`

const pageOf = <A extends { readonly id: number }>(rows: ReadonlyArray<A>, limit: number): Page<A> => {
  const items = rows.slice(0, limit)
  const last = items[items.length - 1]
  return { items, nextCursor: rows.length > limit && last !== undefined ? last.id : null }
}

export class DashboardReads extends Effect.Service<DashboardReads>()("kernel/DashboardReads", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const hasSearchIndex = counts(sql`SELECT COUNT(*) AS n FROM sqlite_master
      WHERE type = 'table' AND name = 'job_runs_search'`).pipe(Effect.map((n) => n > 0))

    const filterClauses = (f: JobFilter, idColumn: string): Array<Statement.Fragment> => {
      const clauses: Array<Statement.Fragment> = []
      if (f.cursor !== undefined) clauses.push(sql`${sql.literal(idColumn)} < ${f.cursor}`)
      if (f.states !== undefined && f.states.length > 0) {
        const onlyActive = f.states.every((s) => (ACTIVE_STATES as ReadonlyArray<string>).includes(s))
        clauses.push(onlyActive ? sql`j.state IN ${sql.in(f.states)}` : sql`+j.state IN ${sql.in(f.states)}`)
      }
      if (f.service !== undefined) clauses.push(sql`+j.service = ${f.service}`)
      if (f.from !== undefined) clauses.push(sql`+j.created_at >= ${f.from}`)
      if (f.to !== undefined) clauses.push(sql`+j.created_at < ${f.to}`)
      return clauses
    }

    const listJobs = (f: JobFilter) =>
      Effect.gen(function* () {
        const take = f.limit + 1
        const q = f.q
        if (q !== undefined && q.length >= 3 && (yield* hasSearchIndex)) {
          const where = [sql`job_runs_search MATCH ${ftsPhrase(q)}`, ...filterClauses(f, "s.rowid")]
          const rows = yield* runs(sql`SELECT j.* FROM job_runs_search s JOIN job_runs j ON j.id = s.rowid
            WHERE ${sql.and(where)} ORDER BY s.rowid DESC LIMIT ${take}`)
          return pageOf(rows, f.limit)
        }
        const where = filterClauses(f, "j.id")
        if (q !== undefined) {
          const pattern = likePattern(q)
          where.push(sql`(j.doc_id LIKE ${pattern} ESCAPE '\\' OR j.patient_id LIKE ${pattern} ESCAPE '\\')`)
        }
        const rows =
          where.length === 0
            ? yield* runs(sql`SELECT j.* FROM job_runs j ORDER BY j.id DESC LIMIT ${take}`)
            : yield* runs(sql`SELECT j.* FROM job_runs j WHERE ${sql.and(where)} ORDER BY j.id DESC LIMIT ${take}`)
        return pageOf(rows, f.limit)
      }).pipe(Effect.orDie, Effect.withSpan("DashboardReads.listJobs"))

    return {
      /** One round trip to the database, for /readyz. */
      ping: sql`SELECT 1 AS ok`.pipe(Effect.asVoid),

      stateCounts: Effect.gen(function* () {
        const rows = yield* Effect.flatMap(
          sql`SELECT state, COUNT(*) AS n FROM job_runs GROUP BY state`,
          Schema.decodeUnknown(StateCount)
        )
        const syncRetry = yield* counts(sql`SELECT COUNT(*) AS n FROM job_runs
          WHERE state = 'waiting_cooldown' AND notes = 'sync_retry'`)
        const holding = yield* counts(sql`SELECT COUNT(*) AS n FROM manual_holds WHERE state = 'holding'`)
        const result: StateCountRows = { counts: new Map(rows.map((r) => [r.state, r.n])), syncRetry, holding }
        return result
      }).pipe(Effect.orDie),

      listJobs,
      hasSearchIndex: Effect.orDie(hasSearchIndex),

      holdsForDoc: (docId: string) =>
        Effect.orDie(decoded(ManualHold)(sql`SELECT * FROM manual_holds WHERE doc_id = ${docId} ORDER BY id`)),

      holding: Effect.orDie(
        decoded(ManualHold)(sql`SELECT * FROM manual_holds WHERE state = 'holding' ORDER BY created_at, id`)
      ),

      /** Cooling rows, soonest first, each with its document's previous row state (for the queue's "kind"). */
      cooldowns: Effect.orDie(
        decoded(CooldownRow)(sql`SELECT r.*, (SELECT p.state FROM job_runs p WHERE p.doc_id = r.doc_id AND p.id < r.id
            ORDER BY p.id DESC LIMIT 1) AS previous_state
          FROM job_runs r WHERE r.state = 'waiting_cooldown' ORDER BY r.scheduled_run_at, r.id`)
      ),

      commandLog: (cursor: number | undefined, limit: number) =>
        Effect.map(
          Effect.orDie(
            cursor === undefined
              ? sql<CommandLogRow>`SELECT * FROM command_log ORDER BY id DESC LIMIT ${limit + 1}`
              : sql<CommandLogRow>`SELECT * FROM command_log WHERE id < ${cursor} ORDER BY id DESC LIMIT ${limit + 1}`
          ),
          (rows) => pageOf(rows, limit)
        ),

      notifications: (cursor: number | undefined, limit: number) =>
        Effect.map(
          Effect.orDie(
            cursor === undefined
              ? sql<NotificationRow>`SELECT * FROM notifications_log ORDER BY id DESC LIMIT ${limit + 1}`
              : sql<NotificationRow>`SELECT * FROM notifications_log WHERE id < ${cursor}
                  ORDER BY id DESC LIMIT ${limit + 1}`
          ),
          (rows) => pageOf(rows, limit)
        ),

      /**
       * Rows that were alive or ended inside [start, end): what the charts are
       * drawn from. Two index ranges (active rows by state, ended rows by
       * finished_at; every path to a terminal state sets finished_at) instead
       * of a scan.
       */
      chartRows: (start: string, end: string) =>
        Effect.orDie(
          decoded(ChartRow)(sql`SELECT service, state, created_at, scheduled_run_at, started_at, finished_at, updated_at
            FROM job_runs WHERE state IN ${sql.in(ACTIVE_STATES)} AND +created_at < ${end}
            UNION ALL
            SELECT service, state, created_at, scheduled_run_at, started_at, finished_at, updated_at
            FROM job_runs WHERE finished_at >= ${start} AND +state NOT IN ${sql.in(ACTIVE_STATES)} AND +created_at < ${end}`)
        )
    }
  })
}) {}
