/**
 * The dashboard server's database connection: read-only (SQLITE_OPEN_READONLY,
 * and query_only on top), a WAL reader beside the kernel's writer, so no
 * dashboard query can change a row or hold the writer up.
 *
 * The kernel creates and migrates the file. A dashboard started first waits
 * for it (the schema at this release's version) instead of creating anything.
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Data, Duration, Effect, Layer, Schedule } from "effect"
import { existsSync } from "node:fs"
import { DatabaseRefused } from "../store/database.ts"
import { LATEST_MIGRATION } from "../store/migrations.ts"

export class DatabaseNotReady extends Data.TaggedError("DatabaseNotReady")<{ readonly message: string }> {}

/** How long a dashboard started before the kernel waits for the database. */
const WAIT = Duration.seconds(120)

const open = (filename: string) =>
  SqliteClient.layer({
    filename,
    readonly: true,
    // The writer owns the journal mode (WAL); a reader must not try to set it.
    disableWAL: true,
    prepareCacheSize: 200,
    prepareCacheTTL: Duration.days(36500)
  })

const schemaVersion = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`PRAGMA busy_timeout = 5000`
  yield* sql`PRAGMA query_only = ON`
  const rows = yield* sql<{ id: number }>`SELECT COALESCE(MAX(id), 0) AS id FROM schema_migrations`
  return rows[0]?.id ?? 0
})

const checkOnce = (filename: string) =>
  Effect.gen(function* () {
    if (!existsSync(filename)) return yield* new DatabaseNotReady({ message: `no database at ${filename} yet` })
    const version = yield* schemaVersion.pipe(
      Effect.provide(open(filename)),
      Effect.mapError((e) => new DatabaseNotReady({ message: `database ${filename} not readable yet: ${e.message}` }))
    )
    if (version < LATEST_MIGRATION) {
      return yield* new DatabaseNotReady({ message: `database ${filename} is at schema ${version}; waiting for ${LATEST_MIGRATION}` })
    }
    if (version > LATEST_MIGRATION) {
      return yield* new DatabaseRefused({
        message: `database schema is version ${version}, newer than this release knows (${LATEST_MIGRATION}); refusing to read it`
      })
    }
  })

export const readOnlyDatabaseLayer = (
  filename: string
): Layer.Layer<SqlClient.SqlClient, DatabaseNotReady | DatabaseRefused> =>
  Layer.unwrapEffect(
    checkOnce(filename).pipe(
      Effect.retry({
        schedule: Schedule.spaced("250 millis").pipe(Schedule.upTo(WAIT)),
        while: (e) => e._tag === "DatabaseNotReady"
      }),
      Effect.as(
        Layer.effectDiscard(
          Effect.flatMap(SqlClient.SqlClient, (sql) =>
            Effect.zipRight(sql`PRAGMA busy_timeout = 5000`, sql`PRAGMA query_only = ON`)
          ).pipe(Effect.orDie)
        ).pipe(Layer.provideMerge(open(filename)), Layer.orDie)
      )
    )
  )
