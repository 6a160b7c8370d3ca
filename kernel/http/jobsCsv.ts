/**
 * The jobs table as CSV, with the jobs list's filters, streamed page by page
 * so a large export never sits in memory whole.
 *
 * Safe to open in a spreadsheet: every text cell is quoted, and one that
 * begins with a character a spreadsheet would read as a formula (= + - @,
 * tab, carriage return) is prefixed with an apostrophe (OWASP's advice on
 * CSV injection). Document ids and patient names come from Firestore and
 * are not trusted.
 */
import { HttpServerResponse } from "@effect/platform"
import { Chunk, Effect, Option, Stream } from "effect"
import type { JobRun } from "../../schemas/job.ts"
import { DashboardReads, type JobFilter } from "../store/reads.ts"

const PAGE = 500

export const CSV_COLUMNS = [
  "run",
  "doc_id",
  "service",
  "state",
  "attempt",
  "patient_id",
  "patient_name",
  "collection_date",
  "created_at",
  "scheduled_run_at",
  "started_at",
  "finished_at",
  "exit_code",
  "error_message",
  "notes"
] as const

const FORMULA_START = /^[=+\-@\t\r]/

/** One cell: numbers as they are, text quoted and defused. */
export const csvCell = (value: string | number | null): string => {
  if (value === null) return ""
  if (typeof value === "number") return String(value)
  const text = FORMULA_START.test(value) ? `'${value}` : value
  return `"${text.replace(/"/g, '""')}"`
}

export const csvRow = (run: JobRun): string =>
  [
    run.id,
    run.doc_id,
    run.service,
    run.state,
    run.attempt,
    run.patient_id,
    run.patient_name,
    run.collection_date,
    run.created_at,
    run.scheduled_run_at,
    run.started_at,
    run.finished_at,
    run.exit_code,
    run.error_message,
    run.notes
  ]
    .map(csvCell)
    .join(",") + "\r\n"

/** Pages of rows until the filter is exhausted; each page is one read. */
export const jobsCsvStream = (filter: Omit<JobFilter, "cursor" | "limit">) =>
  Stream.unwrap(
    Effect.map(DashboardReads, (reads) =>
      Stream.paginateChunkEffect(undefined as number | undefined, (cursor) =>
        Effect.map(reads.listJobs({ ...filter, cursor, limit: PAGE }), (page) => [
          Chunk.of(page.items.map(csvRow).join("")),
          page.nextCursor === null ? Option.none() : Option.some(page.nextCursor)
        ])
      )
    )
  )

export const csvResponse = (body: Stream.Stream<string>, fileName: string) =>
  HttpServerResponse.stream(Stream.encodeText(Stream.concat(Stream.make(`${CSV_COLUMNS.join(",")}\r\n`), body)), {
    contentType: "text/csv; charset=utf-8",
    headers: { "content-disposition": `attachment; filename="${fileName}"`, "cache-control": "no-store" }
  })
