/**
 * Tunables: defaults from schemas/tunables.ts, overrides in SQLite. Writes are
 * validated (integer, in range, known key) and change nothing when refused.
 * The in-memory copy is what actors read; a periodic refresh picks up edits
 * made by another process on the same database.
 */
import { SqlClient } from "@effect/sql"
import { Data, Effect, SubscriptionRef } from "effect"
import { defaultTunables, type TunableKey, tunableProblem, type Tunables } from "../../schemas/tunables.ts"
import { nowIso } from "../time.ts"

export class TunableRefused extends Data.TaggedError("TunableRefused")<{ readonly message: string }> {}

export interface TunableRow {
  readonly key: string
  readonly value: number
  readonly updated_at: string
  readonly updated_by: string | null
}

export class TunableStore extends Effect.Service<TunableStore>()("kernel/TunableStore", {
  scoped: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const load = Effect.gen(function* () {
      const rows = yield* sql<TunableRow>`SELECT * FROM tunables`
      const values: Record<string, number> = { ...defaultTunables() }
      for (const row of rows) if (tunableProblem(row.key, row.value) === undefined) values[row.key] = row.value
      return values as Tunables
    }).pipe(Effect.orDie)
    const current = yield* SubscriptionRef.make(yield* load)
    return {
      get: SubscriptionRef.get(current),
      changes: current.changes,
      rows: Effect.orDie(sql<TunableRow>`SELECT * FROM tunables ORDER BY key`),
      refresh: Effect.flatMap(load, (values) => SubscriptionRef.set(current, values)),
      set: (key: string, value: unknown, by: string) =>
        Effect.gen(function* () {
          const problem = tunableProblem(key, value)
          if (problem !== undefined) return yield* new TunableRefused({ message: problem })
          const now = yield* nowIso
          yield* sql`INSERT INTO tunables (key, value, updated_at, updated_by) VALUES (${key}, ${value as number}, ${now}, ${by})
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
              updated_by = excluded.updated_by`.pipe(Effect.orDie)
          yield* SubscriptionRef.update(current, (t) => ({ ...t, [key as TunableKey]: value as number }))
        }),
      /** Seeds a value only when the database has none (the env start-up default for SANDBOX_ENABLED). */
      seedDefault: (key: TunableKey, value: number) =>
        Effect.gen(function* () {
          const now = yield* nowIso
          yield* sql`INSERT INTO tunables (key, value, updated_at, updated_by) VALUES (${key}, ${value}, ${now}, 'env')
            ON CONFLICT (key) DO NOTHING`.pipe(Effect.orDie)
          yield* Effect.flatMap(load, (values) => SubscriptionRef.set(current, values))
        })
    }
  })
}) {}
