/**
 * The SQLite file: WAL, a busy timeout, and migrations before anything else
 * touches it.
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Cause, Clock, Context, Data, Duration, Effect, Layer, Option } from "effect"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import { isoFromMillis } from "../time.ts"
import { LATEST_MIGRATION, MIGRATIONS } from "./migrations.ts"

export class DatabaseRefused extends Data.TaggedError("DatabaseRefused")<{ readonly message: string }> {}

/** A database closed in order is checked again at the latest after this long anyway. */
const RECHECK_AFTER_MS = 7 * 24 * 60 * 60 * 1000

/**
 * Whether start-up can skip `PRAGMA quick_check`, which reads the whole file
 * (0.74 to 1.0 s at 100,000 rows, the one start-up cost that grew with
 * history). Only when the last process closed the database in order (its
 * finalizer wrote `clean_close_at`) and a full check passed within
 * RECHECK_AFTER_MS. A crash, a SIGKILL or a power cut leaves no mark, so the
 * next start checks the whole file, as does a database from before the
 * integrity table or one whose bookkeeping cannot be read.
 */
const mayTrustLastClose = (sql: SqlClient.SqlClient, now: number) =>
  Effect.gen(function* () {
    const table = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'integrity'`
    if ((table[0]?.n ?? 0) === 0) return false
    const rows = yield* sql<{ checked_at: string | null; clean_close_at: string | null }>`SELECT checked_at, clean_close_at FROM integrity WHERE id = 1`
    const row = rows[0]
    if (row === undefined || row.checked_at === null || row.clean_close_at === null) return false
    const checkedAt = Date.parse(row.checked_at)
    // A check "from the future" (the clock was set back) is not trusted either.
    return Number.isFinite(checkedAt) && now >= checkedAt && now - checkedAt < RECHECK_AFTER_MS
  }).pipe(Effect.orElseSucceed(() => false))

/**
 * Present in the context of a database that nobody opens again once the
 * process is done with it: a replay's, in a temporary directory the replay
 * removes (kernel/replay/world.ts). There, one connection holds the file
 * (`locking_mode = EXCLUSIVE`: no lock and shared-memory round trips per
 * statement), the rollback journal stays in memory and nothing is synced:
 * the same statements give the same results, without the durability a live
 * store needs (per statement: a read 10 to 1.5 us, a claim 55 to 30 us
 * alone; in a 1,000-document replay SQLite's share of the CPU drops by about
 * a sixth). The live store never has it: WAL, synchronous=NORMAL, shared
 * locking.
 */
export class ThrowawayDatabase extends Context.Tag("kernel/store/ThrowawayDatabase")<
  ThrowawayDatabase,
  { readonly removedBy: string }
>() {}

const migrate = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`PRAGMA busy_timeout = 5000`
  if (Option.isSome(yield* Effect.serviceOption(ThrowawayDatabase))) {
    yield* sql`PRAGMA locking_mode = EXCLUSIVE`
    yield* sql`PRAGMA journal_mode = MEMORY`
    yield* sql`PRAGMA synchronous = OFF`
  } else {
    // WAL with synchronous=NORMAL: commits stay atomic and consistent; only the last ones can be lost to a power cut.
    yield* sql`PRAGMA synchronous = NORMAL`
  }
  yield* sql`PRAGMA foreign_keys = ON`
  const now = yield* Clock.currentTimeMillis
  const trusted = yield* mayTrustLastClose(sql, now)
  if (!trusted) {
    const check = yield* sql<{ quick_check: string }>`PRAGMA quick_check`
    if (check[0]?.quick_check !== "ok") {
      return yield* new DatabaseRefused({ message: `database failed its integrity check: ${check[0]?.quick_check ?? "no answer"}` })
    }
  }
  yield* sql`CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`
  const rows = yield* sql<{ id: number }>`SELECT COALESCE(MAX(id), 0) AS id FROM schema_migrations`
  const current = rows[0]?.id ?? 0
  if (current > LATEST_MIGRATION) {
    return yield* new DatabaseRefused({
      message: `database schema is version ${current}, newer than this release knows (${LATEST_MIGRATION}); refusing to touch it`
    })
  }
  for (const migration of MIGRATIONS.filter((m) => m.id > current)) {
    yield* sql.withTransaction(
      Effect.gen(function* () {
        for (const statement of migration.sql) yield* sql.unsafe(statement)
        yield* sql`INSERT INTO schema_migrations (id, name, applied_at) VALUES (${migration.id}, ${migration.name}, strftime('%Y-%m-%dT%H:%M:%fZ'))`
      })
    )
    yield* Effect.logInfo(`applied migration ${migration.id} (${migration.name})`)
  }
  // Open from here on: only an orderly close marks the file clean again.
  const checkedAt = trusted ? null : isoFromMillis(now)
  yield* sql`INSERT INTO integrity (id, checked_at, clean_close_at) VALUES (1, ${checkedAt}, NULL)
    ON CONFLICT (id) DO UPDATE SET clean_close_at = NULL, checked_at = COALESCE(excluded.checked_at, integrity.checked_at)`
  // Runs when the layer's scope closes in order, after everything built on the database has stopped.
  yield* Effect.addFinalizer(() =>
    Effect.flatMap(Clock.currentTimeMillis, (closedAt) =>
      sql`UPDATE integrity SET clean_close_at = ${isoFromMillis(closedAt)} WHERE id = 1`
    ).pipe(Effect.ignore)
  )
})

const describeCause = (cause: unknown) =>
  cause instanceof Error ? cause.message : typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : String(cause)

const refuseUnreadable = (filename: string) => (cause: unknown) =>
  new DatabaseRefused({ message: `cannot open database ${filename}: ${describeCause(cause)}` })

/** SqlClient on a file, migrated. Fails with DatabaseRefused instead of repairing anything. */
export const databaseLayer = (filename: string) => {
  // Statements live for the process: their cache must not expire on a replay's virtual clock.
  const client = SqliteClient.layer({ filename, prepareCacheSize: 500, prepareCacheTTL: Duration.days(36500) }).pipe(
    Layer.catchAllCause((cause) => Layer.fail(refuseUnreadable(filename)(Cause.squash(cause))))
  )
  const ensureDir = Layer.effectDiscard(Effect.sync(() => mkdirSync(dirname(filename), { recursive: true })))
  const migrated = Layer.scopedDiscard(
    migrate.pipe(Effect.catchTag("SqlError", (e) => Effect.fail(refuseUnreadable(filename)(e.cause))))
  )
  return Layer.provideMerge(migrated, client).pipe(Layer.provide(ensureDir))
}
