/**
 * /readyz's database check: a real write, not a read. A full disk, a
 * read-only file or a held lock lets SELECTs through while every outcome the
 * workers try to store is refused (issue 11), so readiness is a one-row
 * UPSERT that commits. Measured on a full tmpfs: the UPSERT fails with
 * SQLITE_FULL while `BEGIN IMMEDIATE; ROLLBACK` still succeeds (a rolled-back
 * transaction writes nothing), so that cheaper probe would say ready.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { nowIso } from "../time.ts"

export class WriteProbe extends Effect.Service<WriteProbe>()("kernel/WriteProbe", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return {
      /** Fails with SQLite's refusal when the database cannot be written right now. */
      probe: Effect.flatMap(nowIso, (now) =>
        sql`INSERT INTO write_probe (id, at) VALUES (1, ${now}) ON CONFLICT(id) DO UPDATE SET at = excluded.at`.pipe(Effect.asVoid)
      )
    }
  })
}) {}
