/** manual_holds: `holding` → `released` | `cancelled`. One holding hold per document at most. */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import type { ManualHold } from "../../schemas/job.ts"
import { EventBus } from "../events.ts"
import { nowIso } from "../time.ts"

export class HoldStore extends Effect.Service<HoldStore>()("kernel/HoldStore", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const events = yield* EventBus

    const holdingFor = (docId: string) =>
      sql<ManualHold>`SELECT * FROM manual_holds WHERE doc_id = ${docId} AND state = 'holding'`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0])),
        Effect.orDie
      )

    const end = (docId: string, to: "released" | "cancelled") =>
      Effect.gen(function* () {
        const now = yield* nowIso
        const rows = yield* sql<ManualHold>`UPDATE manual_holds SET state = ${to}, updated_at = ${now}
          WHERE doc_id = ${docId} AND state = 'holding' RETURNING *`.pipe(Effect.orDie)
        const ended = Option.fromNullable(rows[0])
        if (Option.isSome(ended)) yield* events.publish({ _tag: "hold", doc: docId, state: to })
        return ended
      })

    return {
      holdingFor,
      all: Effect.orDie(sql<ManualHold>`SELECT * FROM manual_holds ORDER BY id`),
      holding: Effect.orDie(sql<ManualHold>`SELECT * FROM manual_holds WHERE state = 'holding' ORDER BY id`),
      /** Returns None when the document already has a holding hold. */
      create: (hold: { docId: string; service: string; patientId: string; createdBy: string }) =>
        Effect.gen(function* () {
          const now = yield* nowIso
          const rows = yield* sql<ManualHold>`INSERT INTO manual_holds ${sql.insert({
            doc_id: hold.docId,
            service: hold.service,
            patient_id: hold.patientId,
            state: "holding",
            created_by: hold.createdBy,
            created_at: now,
            updated_at: now
          })} ON CONFLICT DO NOTHING RETURNING *`.pipe(Effect.orDie)
          const created = Option.fromNullable(rows[0])
          if (Option.isSome(created)) yield* events.publish({ _tag: "hold", doc: hold.docId, state: "holding" })
          return created
        }),
      release: (docId: string) => end(docId, "released"),
      cancel: (docId: string) => end(docId, "cancelled")
    }
  })
}) {}
