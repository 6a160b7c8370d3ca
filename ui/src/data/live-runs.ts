/**
 * Which running rows the executor is actually following (GET /api/live-runs):
 * the execution host's pipeline with its pid, or a Slurm job with its
 * scheduler state. A row the database calls running that the executor does
 * not list is worth an operator's attention (its outcome may be stuck).
 *
 * Asked only while the view shows a running row, once on show and again
 * after run events (spawn, exit, a row entering or leaving running;
 * coalesced, so a burst costs one request); the server shares one answer per second among all dashboards.
 * Nothing polls but the drawer, which looks again at a Slurm job still PENDING.
 */
import { createEffect, on, onCleanup } from "solid-js"
import type { LiveRunsReport } from "../../../schemas/control.ts"
import type { JobRun } from "../../../schemas/job.ts"
import { call } from "./client.ts"
import { useEvents } from "./events.tsx"
import { type Following, followingOf } from "./following.ts"
import { createSynced } from "./synced.ts"

const REFRESH_DELAY_MS = 300

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
    // Only a row entering or leaving running changes what is followed; cooldowns and queueing do not.
    events.on("transition", (e) => (e.from === "running" || e.to === "running") && refresh()),
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
