/**
 * Every attempt, newest first, with search and filters. The search box waits
 * 300 ms after typing (Enter searches at once, Esc clears); "Load more"
 * follows the keyset cursor.
 */
import { createEffect, createSignal, For, on, onCleanup, Show } from "solid-js"
import type { JobsQuery } from "../../../../schemas/api.ts"
import { JobState, type Service, SERVICES } from "../../../../schemas/job.ts"
import { call, endpointPath } from "../../data/client.ts"
import { useDashboard } from "../../data/dashboard.tsx"
import { STATE_LABEL } from "../../data/format.ts"
import { createPaged } from "../../data/paged.ts"
import { ListStatus, Panel } from "../../ui/panel.tsx"
import { JobTable } from "./job-table.tsx"

const SEARCH_DELAY_MS = 300

interface Filters {
  readonly q: string
  readonly state: JobState | ""
  readonly service: Service | ""
  readonly from: string
  readonly to: string
}

const EMPTY: Filters = { q: "", state: "", service: "", from: "", to: "" }

const isState = (s: string): s is JobState => (JobState.literals as ReadonlyArray<string>).includes(s)
const isService = (s: string): s is Service => (SERVICES as ReadonlyArray<string>).includes(s)

const toQuery = (f: Filters): JobsQuery => ({
  q: f.q.trim() === "" ? undefined : f.q.trim(),
  state: f.state === "" ? undefined : [f.state],
  service: f.service === "" ? undefined : f.service,
  from: f.from === "" ? undefined : f.from,
  to: f.to === "" ? undefined : f.to
})

/** The CSV export of what the table shows: the same filters, every page, built by the server. */
const csvHref = (f: Filters): string => {
  const q = toQuery(f)
  const params = new URLSearchParams()
  if (q.state !== undefined) params.set("state", q.state.join(","))
  if (q.service !== undefined) params.set("service", q.service)
  if (q.from !== undefined) params.set("from", q.from)
  if (q.to !== undefined) params.set("to", q.to)
  if (q.q !== undefined) params.set("q", q.q)
  const query = params.toString()
  return `${endpointPath("dashboard", "jobsCsv")}${query === "" ? "" : `?${query}`}`
}

export const JobsPanel = () => {
  const data = useDashboard()
  const [filters, setFilters] = createSignal<Filters>(EMPTY)
  const [text, setText] = createSignal("")
  let debounce: ReturnType<typeof setTimeout> | undefined

  const rows = createPaged(
    (cursor, limit) => call((api) => api.dashboard.listJobs({ urlParams: { ...toQuery(filters()), cursor, limit } })),
    { lazy: true }
  )
  createEffect(on(filters, () => void rows.reset()))
  onCleanup(data.onJobsChanged(() => rows.schedule()))

  const searchNow = (value: string) => {
    if (debounce !== undefined) clearTimeout(debounce)
    debounce = undefined
    setFilters((f) => (f.q === value ? f : { ...f, q: value }))
  }
  const onType = (value: string) => {
    setText(value)
    if (debounce !== undefined) clearTimeout(debounce)
    debounce = setTimeout(() => searchNow(value), SEARCH_DELAY_MS)
  }
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Enter") {
      e.preventDefault()
      searchNow(text())
    } else if (e.key === "Escape") {
      e.preventDefault()
      setText("")
      searchNow("")
    }
  }
  onCleanup(() => debounce !== undefined && clearTimeout(debounce))

  const set = <K extends keyof Filters>(key: K, value: Filters[K]) => setFilters((f) => ({ ...f, [key]: value }))
  const clearAll = () => {
    setText("")
    if (debounce !== undefined) clearTimeout(debounce)
    setFilters(EMPTY)
  }

  return (
    <Panel
      title="Jobs"
      id="jobs"
      actions={
        <a class="button button-small" href={csvHref(filters())} download="lomi-jobs.csv" data-testid="jobs-csv">
          Export CSV
        </a>
      }
    >
      <div class="filters">
        <input
          class="search"
          type="search"
          placeholder="Search document id or patient id"
          aria-label="Search document id or patient id"
          data-testid="job-search"
          maxLength={128}
          value={text()}
          onInput={(e) => onType(e.currentTarget.value)}
          onKeyDown={onKey}
        />
        <label>
          State
          <select
            data-testid="filter-state"
            value={filters().state}
            onChange={(e) => {
              const v = e.currentTarget.value
              set("state", isState(v) ? v : "")
            }}
          >
            <option value="">all</option>
            <For each={JobState.literals}>{(s) => <option value={s}>{STATE_LABEL[s]}</option>}</For>
          </select>
        </label>
        <label>
          Service
          <select
            value={filters().service}
            onChange={(e) => {
              const v = e.currentTarget.value
              set("service", isService(v) ? v : "")
            }}
          >
            <option value="">all</option>
            <For each={SERVICES}>{(s) => <option value={s}>{s}</option>}</For>
          </select>
        </label>
        <label>
          Received from
          <input type="date" value={filters().from} onChange={(e) => set("from", e.currentTarget.value)} />
        </label>
        <label>
          to
          <input type="date" value={filters().to} onChange={(e) => set("to", e.currentTarget.value)} />
        </label>
        <button type="button" class="button button-small" onClick={clearAll}>
          Clear
        </button>
      </div>
      <JobTable rows={rows.items} />
      <ListStatus
        loading={rows.loading}
        loaded={rows.loaded}
        error={rows.error}
        empty={rows.items.length === 0}
        emptyText="No jobs match."
      />
      <div class="list-foot">
        <span class="muted small">{rows.items.length} shown</span>
        <Show when={rows.hasMore}>
          <button type="button" class="button load-more" disabled={rows.loading} onClick={() => void rows.loadMore()}>
            Load more
          </button>
        </Show>
      </div>
    </Panel>
  )
}
