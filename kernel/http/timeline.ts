/**
 * A document's timeline: every attempt (recorded, started, ended), every
 * command that named the document or one of its runs, its manual holds and
 * its emails, merged oldest first. Entries at the same instant keep the
 * order in which they happened within their source (ids ascend).
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import type { TimelineEntry } from "../../schemas/api/operations.ts"
import { JobRun, ManualHold } from "../../schemas/job.ts"

const CommandRow = Schema.Struct({
  id: Schema.Number,
  at: Schema.String,
  user: Schema.String,
  name: Schema.String,
  args: Schema.String,
  status: Schema.String,
  result: Schema.NullOr(Schema.String),
  finished_at: Schema.NullOr(Schema.String)
})

const EmailRow = Schema.Struct({
  id: Schema.Number,
  at: Schema.String,
  template: Schema.String,
  recipients: Schema.String,
  status: Schema.String,
  error: Schema.NullOr(Schema.String)
})

const COMMAND_TITLE: Readonly<Record<string, string>> = {
  kill: "Kill",
  skip: "Skip",
  retry: "Retry",
  mark_failed_for_retry: "Mark failed for retry",
  reset_data_ready: "Reset to Data Ready",
  manual_add: "Manual Add",
  release: "Release",
  cancel_hold: "Cancel hold",
  regenerate_ocr: "Regenerate with edited OCR"
}

const attemptEntries = (run: JobRun): Array<TimelineEntry & { readonly order: number }> => {
  const base = { kind: "attempt" as const, run: run.id }
  const out: Array<TimelineEntry & { readonly order: number }> = [
    {
      ...base,
      order: 0,
      at: run.created_at,
      title: `Attempt ${run.attempt} recorded (#${run.id})`,
      detail: run.scheduled_run_at === null ? null : `due ${run.scheduled_run_at}${run.notes === null ? "" : ` · ${run.notes}`}`,
      ok: null
    }
  ]
  if (run.started_at !== null) {
    out.push({ ...base, order: 1, at: run.started_at, title: `Attempt ${run.attempt} started`, detail: null, ok: null })
  }
  if (run.finished_at !== null) {
    out.push({
      ...base,
      order: 2,
      at: run.finished_at,
      title: `Attempt ${run.attempt} ended: ${run.state}`,
      detail: [run.exit_code === null ? null : `exit ${run.exit_code}`, run.error_message].filter((x) => x !== null).join(" · ") || null,
      ok: run.state === "succeeded"
    })
  }
  return out
}

const argsOf = (args: string): { readonly doc?: unknown; readonly run?: unknown } => {
  try {
    const parsed: unknown = JSON.parse(args)
    return typeof parsed === "object" && parsed !== null ? parsed : {}
  } catch {
    return {}
  }
}

export const docTimeline = (doc: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const runs = yield* SqlSchema.findAll({
      Request: Schema.String,
      Result: JobRun,
      execute: (d) => sql`SELECT * FROM job_runs WHERE doc_id = ${d} ORDER BY id`
    })(doc)
    const runIds = runs.map((r) => r.id)
    const commands = yield* SqlSchema.findAll({
      Request: Schema.String,
      Result: CommandRow,
      execute: (d) =>
        runIds.length === 0
          ? sql`SELECT * FROM command_log WHERE json_extract(args, '$.doc') = ${d} ORDER BY id`
          : sql`SELECT * FROM command_log WHERE json_extract(args, '$.doc') = ${d}
              OR json_extract(args, '$.run') IN ${sql.in(runIds)} ORDER BY id`
    })(doc)
    const holds = yield* SqlSchema.findAll({
      Request: Schema.String,
      Result: ManualHold,
      execute: (d) => sql`SELECT * FROM manual_holds WHERE doc_id = ${d} ORDER BY id`
    })(doc)
    const emails = yield* SqlSchema.findAll({
      Request: Schema.String,
      Result: EmailRow,
      execute: (d) => sql`SELECT id, at, template, recipients, status, error FROM notifications_log WHERE doc_id = ${d} ORDER BY id`
    })(doc)

    const entries: Array<TimelineEntry & { readonly order: number }> = [
      ...runs.flatMap(attemptEntries),
      ...commands.map((c) => {
        const args = argsOf(c.args)
        const run = typeof args.run === "number" ? args.run : null
        return {
          kind: "command" as const,
          order: 3,
          at: c.at,
          run,
          title: `${COMMAND_TITLE[c.name] ?? c.name} by ${c.user}${run === null ? "" : ` (#${run})`}`,
          detail: c.result,
          ok: c.status === "started" ? null : c.status === "ok"
        }
      }),
      ...holds.flatMap((h) => [
        {
          kind: "hold" as const,
          order: 4,
          at: h.created_at,
          run: null,
          title: `Manual hold H${h.id} created${h.created_by === null ? "" : ` by ${h.created_by}`}`,
          detail: `${h.service}, patient ${h.patient_id}`,
          ok: null
        },
        ...(h.state === "holding"
          ? []
          : [{ kind: "hold" as const, order: 4, at: h.updated_at, run: null, title: `Manual hold H${h.id} ${h.state}`, detail: null, ok: null }])
      ]),
      ...emails.map((e) => ({
        kind: "email" as const,
        order: 5,
        at: e.at,
        run: null,
        title: `Email ${e.template}: ${e.status}`,
        detail: e.error ?? (e.recipients === "" ? null : `to ${e.recipients}`),
        ok: e.status === "failed" ? false : e.status === "ok" ? true : null
      }))
    ]
    entries.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.order - b.order))
    return { doc, entries: entries.map(({ order: _order, ...entry }) => entry) }
  }).pipe(Effect.orDie)
