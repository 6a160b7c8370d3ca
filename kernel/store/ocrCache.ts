/** ocr_cache: where the OCR output of a document's last successful Omni-Health run lives. */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import { nowIso } from "../time.ts"

export interface OcrCacheRow {
  readonly doc_id: string
  readonly run_id: number
  readonly ocr_path: string
  readonly created_at: string
}

export class OcrCache extends Effect.Service<OcrCache>()("kernel/OcrCache", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return {
      put: (docId: string, runId: number, ocrPath: string) =>
        Effect.gen(function* () {
          const now = yield* nowIso
          yield* sql`INSERT INTO ocr_cache (doc_id, run_id, ocr_path, created_at)
            VALUES (${docId}, ${runId}, ${ocrPath}, ${now})
            ON CONFLICT (doc_id) DO UPDATE SET run_id = excluded.run_id, ocr_path = excluded.ocr_path,
              created_at = excluded.created_at`
        }).pipe(Effect.orDie),
      get: (docId: string) =>
        sql<OcrCacheRow>`SELECT * FROM ocr_cache WHERE doc_id = ${docId}`.pipe(
          Effect.map((rows) => Option.fromNullable(rows[0])),
          Effect.orDie
        ),
      pruneBefore: (cutoff: string) =>
        Effect.orDie(sql<{ doc_id: string }>`DELETE FROM ocr_cache WHERE created_at < ${cutoff} RETURNING doc_id`).pipe(
          Effect.map((rows) => rows.length)
        )
    }
  })
}) {}
