/**
 * What the "Failed" card means: documents that need a human.
 *
 * A failed_permanent row counts only when it is its document's newest row
 * (a newer row means someone already retried it) and it was not ended on
 * purpose. Ended on purpose, by the error_message the allocator writes:
 *
 * - "Withdrawn from Firestore": someone moved the report out of Data Ready;
 * - "Killed by <user>": an operator killed or cancelled it;
 * - "Marked failed for retry by <user>": the first step of a rerun (single or
 *   batch); the Retry that follows adds a newer row anyway.
 *
 * Everything else that ended failed_permanent (retries used up, a report
 * that cannot run, recovery giving up) needs someone to look.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { JobRun } from "../../schemas/job.ts"

const ON_PURPOSE = ["Withdrawn from Firestore", "Killed by %", "Marked failed for retry by %"] as const

const Count = Schema.Struct({ n: Schema.Number })

const page = (cursor: number | undefined, limit: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const where = sql.and([
      sql`j.state = 'failed_permanent'`,
      sql`NOT EXISTS (SELECT 1 FROM job_runs n WHERE n.doc_id = j.doc_id AND n.id > j.id)`,
      ...ON_PURPOSE.map((pattern) => sql`COALESCE(j.error_message, '') NOT LIKE ${pattern}`),
      ...(cursor === undefined ? [] : [sql`j.id < ${cursor}`])
    ])
    return { sql, where }
  })

/** How many documents need a human now. */
export const countNeedsHuman = Effect.gen(function* () {
  const { sql, where } = yield* page(undefined, 0)
  const find = SqlSchema.single({
    Request: Schema.Void,
    Result: Count,
    execute: () => sql`SELECT COUNT(*) AS n FROM job_runs j WHERE ${where}`
  })
  return (yield* find()).n
}).pipe(Effect.orDie)

/** Those rows, newest first, keyset-paged like the jobs list. */
export const listNeedsHuman = (cursor: number | undefined, limit: number) =>
  Effect.gen(function* () {
    const { sql, where } = yield* page(cursor, limit)
    const find = SqlSchema.findAll({
      Request: Schema.Void,
      Result: JobRun,
      execute: () => sql`SELECT j.* FROM job_runs j WHERE ${where} ORDER BY j.id DESC LIMIT ${limit + 1}`
    })
    const rows = yield* find()
    const items = rows.slice(0, limit)
    const last = items[items.length - 1]
    return { items, nextCursor: rows.length > limit && last !== undefined ? last.id : null }
  }).pipe(Effect.orDie)
