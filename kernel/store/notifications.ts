/** notifications_log: every email send attempt and how it ended. */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { nowIso } from "../time.ts"

export interface NotificationRow {
  readonly id: number
  readonly at: string
  readonly template: string
  readonly doc_id: string | null
  readonly recipients: string
  readonly status: "ok" | "failed" | "skipped"
  readonly error: string | null
}

export class NotificationLog extends Effect.Service<NotificationLog>()("kernel/NotificationLog", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return {
      record: (entry: {
        template: string
        docId: string | null
        recipients: ReadonlyArray<string>
        status: "ok" | "failed" | "skipped"
        error: string | null
      }) =>
        Effect.gen(function* () {
          const at = yield* nowIso
          yield* sql`INSERT INTO notifications_log ${sql.insert({
            at,
            template: entry.template,
            doc_id: entry.docId,
            recipients: entry.recipients.join(", "),
            status: entry.status,
            error: entry.error
          })}`
        }).pipe(Effect.orDie),
      recent: (limit: number) =>
        Effect.orDie(sql<NotificationRow>`SELECT * FROM notifications_log ORDER BY id DESC LIMIT ${limit}`),
      pruneBefore: (cutoff: string) =>
        Effect.orDie(sql<{ id: number }>`DELETE FROM notifications_log WHERE at < ${cutoff} RETURNING id`).pipe(
          Effect.map((rows) => rows.length)
        )
    }
  })
}) {}
