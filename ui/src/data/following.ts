/**
 * What the executor's live view says of one job row: followed (by the
 * execution host, with the pipeline's pid, or as a Slurm job with its state),
 * missing (the database says running, the executor does not list it), or
 * unknown (the executor did not answer). Pure, so it is tested on its own.
 */
import type { LiveRunsReport } from "../../../schemas/control.ts"
import type { JobRun } from "../../../schemas/job.ts"

/**
 * A row is flagged "not followed" only when the executor was asked this long
 * after the row started: between the row turning running and the executor's
 * start (and between an exit and its stored outcome) the two legitimately
 * disagree for a moment.
 */
const SETTLE_MS = 10_000

export type Following =
  | { readonly kind: "followed"; readonly text: string }
  | { readonly kind: "missing"; readonly text: string }
  | { readonly kind: "unknown"; readonly text: string }

const WHO: Readonly<Record<LiveRunsReport["executor"], string>> = {
  host: "the execution host",
  slurm: "the Slurm executor"
}

/** What the report says of one row; undefined when there is nothing to say (not running, or not asked yet). */
export const followingOf = (report: LiveRunsReport | undefined, row: JobRun): Following | undefined => {
  if (row.state !== "running" || report === undefined) return undefined
  if (!report.available) {
    return { kind: "unknown", text: `Not known whether ${WHO[report.executor]} follows it: ${report.message ?? "no answer"}` }
  }
  const live = report.runs.find((r) => r.runId === row.id)
  if (live !== undefined) {
    if (live.externalId !== undefined) {
      return { kind: "followed", text: `Slurm job ${live.externalId} · ${live.externalState ?? "PENDING"}` }
    }
    return {
      kind: "followed",
      text: live.pid === undefined ? "followed by the execution host" : `followed by the execution host (pid ${live.pid})`
    }
  }
  const started = row.started_at === null ? Number.NaN : Date.parse(row.started_at)
  if (Number.isNaN(started) || Date.parse(report.checkedAt) - started < SETTLE_MS) return undefined
  return { kind: "missing", text: `not followed by ${WHO[report.executor]}` }
}
