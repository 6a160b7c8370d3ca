/**
 * Chart data for the dashboard's Week / Month toggle, computed from the rows
 * that were alive or ended inside the window. Days are calendar days in the
 * server's configured timezone. Queue depth is not recorded anywhere, so it
 * is reconstructed: at each sample time a row counts as waiting (created,
 * not yet due), queued (due, not started), or running (started, not ended).
 */
import type { Charts } from "../../schemas/api.ts"
import { isActive, SERVICES, type TerminalState, TERMINAL_STATES } from "../../schemas/job.ts"
import type { ChartRow } from "../store/reads.ts"
import { isoFromMillis } from "../time.ts"

const DAY_MS = 86_400_000

export type ChartRange = "7d" | "30d"

export const rangeDays = (range: ChartRange) => (range === "7d" ? 7 : 30)

/** The window to fetch rows for: a day of slack before the first local day. */
export const chartWindow = (now: number, range: ChartRange) => ({
  start: isoFromMillis(now - (rangeDays(range) + 1) * DAY_MS),
  end: isoFromMillis(now + 1)
})

const dayFormatter = (timezone: string) => {
  let format: Intl.DateTimeFormat
  try {
    format = new Intl.DateTimeFormat("en-CA", { timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit" })
  } catch {
    format = new Intl.DateTimeFormat("en-CA", { timeZone: "UTC", year: "numeric", month: "2-digit", day: "2-digit" })
  }
  return (ms: number) => format.format(ms)
}

const parse = (iso: string | null): number | null => {
  if (iso === null) return null
  const ms = Date.parse(iso)
  return Number.isNaN(ms) ? null : ms
}

const endOf = (row: ChartRow): number | null => (isActive(row.state) ? null : parse(row.finished_at ?? row.updated_at))

type Outcomes = { -readonly [K in TerminalState]: number }
const noOutcomes = (): Outcomes => ({
  succeeded: 0,
  failed_retrying: 0,
  temp_failed: 0,
  failed_sync: 0,
  failed_permanent: 0
})

export const computeCharts = (
  rows: ReadonlyArray<ChartRow>,
  now: number,
  range: ChartRange,
  timezone: string
): Charts => {
  const dayOf = dayFormatter(timezone)
  const n = rangeDays(range)
  const days: Array<string> = []
  for (let i = n - 1; i >= 0; i--) {
    const d = dayOf(now - i * DAY_MS)
    if (!days.includes(d)) days.push(d)
  }
  const inWindow = new Set(days)

  const outcomes = new Map(days.map((d) => [d, noOutcomes()]))
  const durations = new Map<string, { runs: number; total: number; max: number }>()
  const failures = new Map(SERVICES.map((s): [string, Outcomes] => [s, noOutcomes()]))

  for (const row of rows) {
    const ended = endOf(row)
    if (ended === null) continue
    const day = dayOf(ended)
    if (!inWindow.has(day)) continue
    const state = row.state as TerminalState
    const perDay = outcomes.get(day)
    if (perDay !== undefined) perDay[state] += 1
    if (state !== "succeeded") {
      const perService = failures.get(row.service) ?? noOutcomes()
      perService[state] += 1
      failures.set(row.service, perService)
    }
    const started = parse(row.started_at)
    const finished = parse(row.finished_at)
    if (started !== null && finished !== null && finished >= started) {
      const key = `${day}|${row.service}`
      const seconds = (finished - started) / 1000
      const d = durations.get(key) ?? { runs: 0, total: 0, max: 0 }
      durations.set(key, { runs: d.runs + 1, total: d.total + seconds, max: Math.max(d.max, seconds) })
    }
  }

  const samples = range === "7d" ? 56 : 60
  const step = (n * DAY_MS) / samples
  const times = Array.from({ length: samples }, (_, k) => now - (samples - 1 - k) * step)
  const depth = times.map(() => ({ waiting: 0, queued: 0, running: 0 }))
  for (const row of rows) {
    const created = parse(row.created_at)
    if (created === null) continue
    const due = parse(row.scheduled_run_at)
    const started = parse(row.started_at)
    const ended = endOf(row)
    times.forEach((t, k) => {
      const slot = depth[k]
      if (slot === undefined || created > t || (ended !== null && ended <= t)) return
      if (started !== null && started <= t) slot.running += 1
      else if (due !== null && due > t) slot.waiting += 1
      else slot.queued += 1
    })
  }

  return {
    range,
    timezone,
    days,
    finishedByOutcome: days.map((day) => ({ day, ...(outcomes.get(day) ?? noOutcomes()) })),
    durationByService: days.flatMap((day) =>
      SERVICES.flatMap((service) => {
        const d = durations.get(`${day}|${service}`)
        return d === undefined
          ? []
          : [{ day, service, runs: d.runs, avgSeconds: d.total / d.runs, maxSeconds: d.max }]
      })
    ),
    failuresByService: [...failures.entries()].map(([service, o]) => ({
      service,
      failed_retrying: o.failed_retrying,
      temp_failed: o.temp_failed,
      failed_sync: o.failed_sync,
      failed_permanent: o.failed_permanent,
      total: TERMINAL_STATES.reduce((sum, s) => (s === "succeeded" ? sum : sum + o[s]), 0)
    })),
    queueDepth: times.map((t, k) => ({ at: isoFromMillis(t), ...(depth[k] ?? { waiting: 0, queued: 0, running: 0 }) }))
  }
}
