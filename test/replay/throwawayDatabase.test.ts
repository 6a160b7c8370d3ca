/**
 * A replay's database is thrown away with its temporary directory, so it
 * runs without the live store's durability (one exclusive connection, the
 * journal in memory, no syncs); the live store keeps WAL and
 * synchronous=NORMAL. Expected values are SQLite's own answers to the PRAGMAs.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { databaseFile } from "../../kernel/paths.ts"
import { replayConfig, replayWorldLayer, throwawayReplayWorldLayer } from "../../kernel/replay/world.ts"
import { storeLayer } from "../../kernel/runtime.ts"
import { databaseLayer, ThrowawayDatabase } from "../../kernel/store/database.ts"
import { removeDb, tempDbFile } from "../support/store.ts"

const pragmas = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const journal = yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`
  const locking = yield* sql<{ locking_mode: string }>`PRAGMA locking_mode`
  const synchronous = yield* sql<{ synchronous: number }>`PRAGMA synchronous`
  // Migrated as usual: the statements and the schema are the production ones.
  const applied = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM schema_migrations`
  return { journal: journal[0]?.journal_mode, locking: locking[0]?.locking_mode, synchronous: synchronous[0]?.synchronous, migrations: applied[0]?.n }
})

describe("throwaway replay database", () => {
  it.effect("the live store keeps WAL, synchronous=NORMAL and shared locking", () =>
    Effect.gen(function* () {
      const file = tempDbFile()
      const seen = yield* Effect.scoped(Effect.provide(pragmas, databaseLayer(file)))
      removeDb(file)
      expect(seen).toMatchObject({ journal: "wal", locking: "normal", synchronous: 1 })
      expect(seen.migrations).toBeGreaterThanOrEqual(5)
    })
  )

  it.effect("a database marked throwaway runs with an exclusive lock, a memory journal and no syncs", () =>
    Effect.gen(function* () {
      const file = tempDbFile()
      const seen = yield* Effect.scoped(
        Effect.provide(pragmas, databaseLayer(file)).pipe(Effect.provideService(ThrowawayDatabase, { removedBy: "this test" }))
      )
      removeDb(file)
      expect(seen).toMatchObject({ journal: "memory", locking: "exclusive", synchronous: 0 })
      expect(seen.migrations).toBeGreaterThanOrEqual(5)
    })
  )

  const pragmasIn = (world: typeof replayWorldLayer) =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "lomi-throwaway-"))
      const config = replayConfig(dir, "UTC")
      return yield* Effect.scoped(
        Effect.gen(function* () {
          const built = yield* Layer.build(world(config))
          const stores = yield* Layer.build(storeLayer(databaseFile(config.dataDir))).pipe(Effect.provide(built))
          return yield* Effect.provide(pragmas, stores)
        })
      ).pipe(Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true }))))
    })

  it.effect("the replay's world marks its store throwaway", () =>
    Effect.gen(function* () {
      expect(yield* pragmasIn(throwawayReplayWorldLayer)).toMatchObject({ journal: "memory", locking: "exclusive", synchronous: 0 })
    })
  )

  it.effect("the world tests build whole allocators in keeps the live store's durability", () =>
    Effect.gen(function* () {
      expect(yield* pragmasIn(replayWorldLayer)).toMatchObject({ journal: "wal", locking: "normal", synchronous: 1 })
    })
  )
})
