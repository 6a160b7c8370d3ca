/**
 * Loading a document seed (`reports.json`, `patients.json`: objects keyed by
 * document id) and writing it into Firestore. The demo seed lives in
 * fixtures/demo/; tests pass their own.
 */
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, ParseResult, Schema } from "effect"
import { ReportData } from "../../schemas/report.ts"
import { FirestoreError } from "../ports/firestore.ts"
import type { DocEditor } from "./doc-editor.ts"
import { describeError } from "./errors.ts"

export const DEMO_SEED_DIR = fileURLToPath(new URL("../../fixtures/demo/", import.meta.url))

export const DocumentSet = Schema.Record({ key: Schema.String, value: ReportData })
export type DocumentSet = typeof DocumentSet.Type

export interface Seed {
  readonly reports: DocumentSet
  readonly patients: DocumentSet
}

const decodeDocumentSet = Schema.decodeUnknown(Schema.parseJson(DocumentSet))

const loadFile = (file: string): Effect.Effect<DocumentSet, FirestoreError> =>
  Effect.tryPromise({
    try: () => readFile(file, "utf8"),
    catch: (cause) => new FirestoreError({ operation: "seed", message: `cannot read ${file}: ${describeError(cause)}` })
  }).pipe(
    Effect.flatMap((text) =>
      decodeDocumentSet(text).pipe(
        Effect.mapError((error) => {
          const reason = ParseResult.TreeFormatter.formatErrorSync(error).replace(/\s*\n\s*/g, " ")
          return new FirestoreError({ operation: "seed", message: `${file} is not an object of documents keyed by id: ${reason}` })
        })
      )
    )
  )

export const loadSeed = (dir: string): Effect.Effect<Seed, FirestoreError> =>
  Effect.all({ reports: loadFile(join(dir, "reports.json")), patients: loadFile(join(dir, "patients.json")) })

export const writeSeed = (editor: DocEditor, seed: Seed): Effect.Effect<void, FirestoreError> =>
  Effect.all(
    [
      ...Object.entries(seed.patients).map(([id, data]) => editor.set("patients", id, data)),
      ...Object.entries(seed.reports).map(([id, data]) => editor.set("reports", id, data))
    ],
    { discard: true }
  )
