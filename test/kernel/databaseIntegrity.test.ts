/**
 * Start-up's integrity check (kernel/store/database.ts): `PRAGMA quick_check`
 * reads the whole file, so it is skipped only after an orderly close within
 * the last 7 days. A page corrupted behind SQLite's back shows which starts
 * read the file: one that checks refuses it, one that trusts the last close
 * opens it.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Exit, Layer } from "effect"
import { closeSync, openSync, writeSync } from "node:fs"
import { databaseLayer } from "../../kernel/store/database.ts"
import { removeDb, tempDbFile } from "../support/store.ts"

const openDb = (file: string) => Effect.scoped(Layer.build(databaseLayer(file)))

/** A plain connection, none of the allocator's start-up: what another tool would see or do. */
const plain = <A>(file: string, use: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
  Effect.flatMap(SqlClient.SqlClient, use).pipe(Effect.provide(SqliteClient.layer({ filename: file })), Effect.orDie)

const integrityRow = (file: string) =>
  plain(file, (sql) =>
    Effect.map(
      sql<{ checked_at: string | null; clean_close_at: string | null }>`SELECT checked_at, clean_close_at FROM integrity WHERE id = 1`,
      (rows) => rows[0]
    )
  )

/** A database with an indexed table, closed in order, whose index root page is then overwritten with garbage. */
const corruptAfterOrderlyClose = (file: string) =>
  Effect.gen(function* () {
    yield* Effect.scoped(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`
        yield* sql`CREATE INDEX filler_body ON filler (body)`
        yield* sql`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
          INSERT INTO filler (id, body) SELECT i, printf('row %08d', i) FROM n`
      }).pipe(Effect.provide(databaseLayer(file)))
    )
    const { root, pageSize } = yield* plain(file, (sql) =>
      Effect.gen(function* () {
        const roots = yield* sql<{ rootpage: number }>`SELECT rootpage FROM sqlite_master WHERE name = 'filler_body'`
        const sizes = yield* sql<{ page_size: number }>`PRAGMA page_size`
        return { root: roots[0]?.rootpage ?? 0, pageSize: sizes[0]?.page_size ?? 0 }
      })
    )
    expect(root).toBeGreaterThan(1)
    const fd = openSync(file, "r+")
    writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (root - 1) * pageSize)
    closeSync(fd)
  })

describe("start-up integrity check", () => {
  it.live("an open database is marked not closed in order; an orderly close marks it", () =>
    Effect.gen(function* () {
      const file = tempDbFile()
      const whileOpen = yield* Effect.scoped(Effect.zipRight(Layer.build(databaseLayer(file)), integrityRow(file)))
      const afterClose = yield* integrityRow(file)
      removeDb(file)
      expect(whileOpen?.clean_close_at).toBeNull()
      expect(whileOpen?.checked_at).toMatch(/^\d{4}-\d\d-\d\dT/)
      expect(afterClose?.clean_close_at).toMatch(/^\d{4}-\d\d-\d\dT/)
    })
  )

  it.live("after an orderly close the whole-file check is skipped: a corrupt index page does not stop start-up", () =>
    Effect.gen(function* () {
      const file = tempDbFile()
      yield* corruptAfterOrderlyClose(file)
      const exit = yield* Effect.exit(openDb(file))
      removeDb(file)
      expect(Exit.isSuccess(exit)).toBe(true)
    })
  )

  it.live("without the mark of an orderly close (a crash, SIGKILL, power cut) the file is checked and refused", () =>
    Effect.gen(function* () {
      const file = tempDbFile()
      yield* corruptAfterOrderlyClose(file)
      yield* plain(file, (sql) => sql`UPDATE integrity SET clean_close_at = NULL`)
      const exit = yield* Effect.exit(openDb(file))
      removeDb(file)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(JSON.stringify(exit)).toContain("database failed its integrity check")
    })
  )

  it.live("a last full check older than 7 days is run again, orderly close or not", () =>
    Effect.gen(function* () {
      const file = tempDbFile()
      yield* corruptAfterOrderlyClose(file)
      const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000).toISOString()
      yield* plain(file, (sql) => sql`UPDATE integrity SET checked_at = ${eightDaysAgo}`)
      const exit = yield* Effect.exit(openDb(file))
      removeDb(file)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(JSON.stringify(exit)).toContain("database failed its integrity check")
    })
  )
})
