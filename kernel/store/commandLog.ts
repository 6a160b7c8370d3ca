/** command_log: every operator command, recorded before it acts and again with its result. */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { nowIso } from "../time.ts"

export interface CommandLogRow {
  readonly id: number
  readonly at: string
  readonly user: string
  readonly name: string
  readonly args: string
  readonly status: "started" | "ok" | "refused" | "error"
  readonly result: string | null
  readonly finished_at: string | null
}

export class CommandLog extends Effect.Service<CommandLog>()("kernel/CommandLog", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return {
      start: (user: string, name: string, args: unknown) =>
        Effect.gen(function* () {
          const at = yield* nowIso
          const rows = yield* sql<{ id: number }>`INSERT INTO command_log ${sql.insert({
            at,
            user,
            name,
            args: JSON.stringify(args),
            status: "started"
          })} RETURNING id`
          return rows[0]?.id ?? 0
        }).pipe(Effect.orDie),
      finish: (id: number, status: "ok" | "refused" | "error", result: string) =>
        Effect.gen(function* () {
          const at = yield* nowIso
          yield* sql`UPDATE command_log SET status = ${status}, result = ${result}, finished_at = ${at} WHERE id = ${id}`
        }).pipe(Effect.orDie),
      recent: (limit: number) =>
        Effect.orDie(sql<CommandLogRow>`SELECT * FROM command_log ORDER BY id DESC LIMIT ${limit}`)
    }
  })
}) {}
