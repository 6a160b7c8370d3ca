import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect, Exit, Layer } from "effect"
import { writeFileSync } from "node:fs"
import { databaseLayer } from "../../kernel/store/database.ts"
import { LATEST_MIGRATION, MIGRATIONS } from "../../kernel/store/migrations.ts"
import { removeDb, tempDbFile } from "../support/store.ts"

const openDb = (file: string) => Effect.scoped(Layer.build(databaseLayer(file)))

describe("database start-up", () => {
  it.effect("a new file gets WAL and every migration", () =>
    Effect.gen(function* () {
      const file = tempDbFile()
      const rows = yield* Effect.scoped(
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const mode = yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`
          const applied = yield* sql<{ id: number }>`SELECT id FROM schema_migrations`
          return { mode: mode[0]?.journal_mode, applied: applied.map((r) => r.id) }
        }).pipe(Effect.provide(databaseLayer(file)))
      )
      removeDb(file)
      expect(rows.mode).toBe("wal")
      expect(rows.applied).toEqual(MIGRATIONS.map((m) => m.id))
    })
  )

  it.effect("a database from a newer release is refused, not rewritten", () =>
    Effect.gen(function* () {
      const file = tempDbFile()
      yield* Effect.scoped(
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          yield* sql`INSERT INTO schema_migrations (id, name, applied_at) VALUES (${LATEST_MIGRATION + 1}, 'future', 'x')`
        }).pipe(Effect.provide(databaseLayer(file)))
      )
      const exit = yield* Effect.exit(openDb(file))
      removeDb(file)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(JSON.stringify(exit)).toContain("newer than this release knows")
    })
  )

  it.effect("a corrupt file is refused with a clear message", () =>
    Effect.gen(function* () {
      const file = tempDbFile()
      writeFileSync(file, "this is not a database, just some bytes ".repeat(200))
      const exit = yield* Effect.exit(openDb(file))
      removeDb(file)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(JSON.stringify(exit)).toMatch(/cannot open database|integrity/)
    })
  )
})
