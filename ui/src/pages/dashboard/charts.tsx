/** Four charts over the last week or month; the legend hides or shows a series. */
import { createMemo, For, Show } from "solid-js"
import type { Charts } from "../../../../schemas/api.ts"
import { SERVICES, TERMINAL_STATES, type TerminalState } from "../../../../schemas/job.ts"
import { type ChartRange, useDashboard } from "../../data/dashboard.tsx"
import { formatSeconds, STATE_LABEL } from "../../data/format.ts"
import { Chart, type Series } from "../../ui/chart.tsx"
import { Panel } from "../../ui/panel.tsx"

const OUTCOME_COLOR: Readonly<Record<TerminalState, string>> = {
  succeeded: "#3c9a5f",
  failed_retrying: "#e0a030",
  temp_failed: "#c9b458",
  failed_sync: "#e07b39",
  failed_permanent: "#c8463d"
}
type FailureState = Exclude<TerminalState, "succeeded">
const FAILURES = TERMINAL_STATES.filter((s): s is FailureState => s !== "succeeded")
const SERVICE_COLOR = ["#4a6fd1", "#9b59b6", "#1f9e9a", "#888"]
const RANGES: ReadonlyArray<{ readonly id: ChartRange; readonly label: string }> = [
  { id: "7d", label: "Week" },
  { id: "30d", label: "Month" }
]

const shortDay = (day: string) => day.slice(5)
const shortTime = (iso: string) => {
  const d = new Date(iso)
  return `${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")} ${String(d.getHours()).padStart(2, "0")}h`
}

const build = (c: Charts) => {
  const days = c.days
  const services = [...new Set([...SERVICES, ...c.durationByService.map((r) => r.service)])]
  const outcome: ReadonlyArray<Series> = TERMINAL_STATES.map((state) => ({
    name: STATE_LABEL[state],
    color: OUTCOME_COLOR[state],
    values: days.map((day) => c.finishedByOutcome.find((r) => r.day === day)?.[state] ?? 0)
  }))
  const duration: ReadonlyArray<Series> = services.map((service, i) => ({
    name: service,
    color: SERVICE_COLOR[i % SERVICE_COLOR.length] ?? "#888",
    values: days.map((day) => c.durationByService.find((r) => r.day === day && r.service === service)?.avgSeconds ?? 0)
  }))
  const failureServices = c.failuresByService.map((r) => r.service)
  const failures: ReadonlyArray<Series> = FAILURES.map((state) => ({
    name: STATE_LABEL[state],
    color: OUTCOME_COLOR[state],
    values: c.failuresByService.map((r) => r[state])
  }))
  const depthLabels = c.queueDepth.map((p) => shortTime(p.at))
  const depth: ReadonlyArray<Series> = [
    { name: "Waiting", color: "#8e7cc3", values: c.queueDepth.map((p) => p.waiting) },
    { name: "Queued", color: "#4a6fd1", values: c.queueDepth.map((p) => p.queued) },
    { name: "Running", color: "#3c9a5f", values: c.queueDepth.map((p) => p.running) }
  ]
  return { dayLabels: days.map(shortDay), outcome, duration, failureServices, failures, depthLabels, depth }
}

export const ChartsPanel = () => {
  const data = useDashboard()
  const built = createMemo(() => {
    const c = data.charts.value
    return c === undefined ? undefined : build(c)
  })
  return (
    <Panel
      title="Charts"
      id="charts"
      actions={
        <div class="segmented" role="group" aria-label="Range">
          <For each={RANGES}>
            {(r) => (
              <button
                type="button"
                classList={{ active: data.chartRange === r.id }}
                onClick={() => data.setChartRange(r.id)}
              >
                {r.label}
              </button>
            )}
          </For>
        </div>
      }
    >
      <Show when={data.charts.error}>
        <p class="error">Could not load charts: {data.charts.error}</p>
      </Show>
      <Show when={built()} fallback={<p class="muted">Loading…</p>}>
        {(b) => (
          <div class="charts">
            <Chart title="Finished attempts per day, by outcome" kind="stacked" integer labels={b().dayLabels} series={b().outcome} testId="chart-outcomes" />
            <Chart
              title="Average pipeline run time per day"
              kind="line"
              labels={b().dayLabels}
              series={b().duration}
              format={(s) => (s < 1 ? `${Math.round(s * 100) / 100}s` : s < 10 ? `${Math.round(s * 10) / 10}s` : formatSeconds(s))}
            />
            <Chart title="Failures by service" kind="grouped" integer labels={b().failureServices} series={b().failures} />
            <Chart title="Queue depth" kind="line" integer labels={b().depthLabels} series={b().depth} />
          </div>
        )}
      </Show>
      <Show when={data.charts.value}>
        {(c) => <p class="muted small">Days in {c().timezone}. Queue depth is reconstructed from the rows' timestamps.</p>}
      </Show>
    </Panel>
  )
}
