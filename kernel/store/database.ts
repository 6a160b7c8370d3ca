/**
 * The SQLite file: WAL, a busy timeout, and migrations before anything else
 * touches it.
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Cause, Data, Duration, Effect, Layer } from "effect"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import { LATEST_MIGRATION, MIGRATIONS } from "./migrations.ts"

export class DatabaseRefused extends Data.TaggedError("DatabaseRefused")<{ readonly message: string }> {}

const migrate = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`PRAGMA busy_timeout = 5000`
  // WAL with synchronous=NORMAL: commits stay atomic and consistent; only the last ones can be lost to a power cut.
  yield* sql`PRAGMA synchronous = NORMAL`
  yield* sql`PRAGMA foreign_keys = ON`
  const check = yield* sql<{ quick_check: string }>`PRAGMA quick_check`
  if (check[0]?.quick_check !== "ok") {
    return yield* new DatabaseRefused({ message: `database failed its integrity check: ${check[0]?.quick_check ?? "no answer"}` })
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
  const migrated = Layer.effectDiscard(
    migrate.pipe(Effect.catchTag("SqlError", (e) => Effect.fail(refuseUnreadable(filename)(e.cause))))
  )
  return Layer.provideMerge(migrated, client).pipe(Layer.provide(ensureDir))
}
