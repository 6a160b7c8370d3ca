/**
 * Which running rows the executor is actually following (GET /api/live-runs):
 * the execution host's pipeline with its pid, or a Slurm job with its
 * scheduler state. A row the database calls running that the executor does
 * not list is worth an operator's attention (its outcome may be stuck).
 *
 * Asked only while the view shows a running row, once on show and again
 * after run events (spawn, exit, transition; coalesced, so a burst costs one
 * request); the server shares one answer per second among all dashboards.
 * Nothing polls.
 */
import { createEffect, on, onCleanup } from "solid-js"
import type { LiveRunsReport } from "../../../schemas/control.ts"
import type { JobRun } from "../../../schemas/job.ts"
import { call } from "./client.ts"
import { useEvents } from "./events.tsx"
import { createSynced } from "./synced.ts"

/**
 * A row is flagged "not followed" only when the executor was asked this long
 * after the row started: between the row turning running and the executor's
 * start (and between an exit and its stored outcome) the two legitimately
 * disagree for a moment.
 */
const SETTLE_MS = 10_000
const REFRESH_DELAY_MS = 300

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

export interface LiveRunsView {
  readonly report: LiveRunsReport | undefined
  readonly error: string | undefined
  readonly of: (row: JobRun) => Following | undefined
  readonly refresh: () => void
}

/** `wanted`: whether the view shows a running row right now. */
export const createLiveRuns = (wanted: () => boolean): LiveRunsView => {
  const events = useEvents()
  const synced = createSynced<LiveRunsReport | undefined>(
    () => call((api) => api.executor.liveRuns()),
    undefined,
    { key: null, lazy: true }
  )
  const refresh = () => {
    if (wanted()) synced.schedule(REFRESH_DELAY_MS)
  }
  createEffect(on(wanted, (yes) => yes && synced.schedule(0)))
  const offs = [
    events.on("spawn", refresh),
    events.on("exit", refresh),
    events.on("transition", refresh),
    events.onResync(refresh)
  ]
  onCleanup(() => offs.forEach((off) => off()))
  return {
    get report() {
      return synced.value
    },
    get error() {
      return synced.error
    },
    of: (row) => followingOf(synced.value, row),
    refresh
  }
}
