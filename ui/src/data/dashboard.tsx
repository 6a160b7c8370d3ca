/**
 * The dashboard's shared reads, each kept fresh by the events that can change
 * it. Components read through this context's getters and never fetch these
 * themselves, so one event costs one request whatever is on screen.
 */
import { createContext, createSignal, type JSX, onCleanup, useContext } from "solid-js"
import type {
  Charts,
  CommandLogPage,
  HealthReport,
  NotificationPage,
  ProcessQueue,
  RestartStatus,
  StateCards,
  Sysadmin,
  TunableList
} from "../../../schemas/api.ts"
import type { HealthCheckName } from "../../../schemas/health.ts"
import { isActive } from "../../../schemas/job.ts"
import { call } from "./client.ts"
import { useEvents } from "./events.tsx"
import { createPaged, type Paged } from "./paged.ts"
import { createSynced, type Synced } from "./synced.ts"

export type ChartRange = Charts["range"]
export type CommandEntry = (typeof CommandLogPage.Type)["items"][number]
export type NotificationEntry = (typeof NotificationPage.Type)["items"][number]

export interface DashboardData {
  readonly cards: Synced<StateCards | undefined>
  readonly queue: Synced<ProcessQueue>
  readonly health: Synced<typeof HealthReport.Type>
  readonly tunables: Synced<typeof TunableList.Type | undefined>
  readonly charts: Synced<Charts | undefined>
  readonly sysadmin: Synced<typeof Sysadmin.Type>
  /** Pending restart-required values, and whether a restart is under way. */
  readonly restart: Synced<RestartStatus | undefined>
  readonly commands: Paged<CommandEntry>
  readonly notifications: Paged<NotificationEntry>
  readonly chartRange: ChartRange
  readonly setChartRange: (range: ChartRange) => void
  /**
   * Firestore outage, the one source for the banner, the header and the
   * Health panel: the kernel's outage event as soon as it arrives, else the
   * state cards' flag (read at start and after every reconnection).
   */
  readonly outage: boolean
  readonly refreshHealth: (name?: HealthCheckName) => Promise<void>
  /** Any change to job rows: jobs lists subscribe to this. */
  readonly onJobsChanged: (handler: () => void) => () => void
}

const DashboardContext = createContext<DashboardData>()

export const DashboardProvider = (props: { readonly children: JSX.Element }) => {
  const events = useEvents()
  const [chartRange, setChartRange] = createSignal<ChartRange>("7d")
  const [outageEvent, setOutageEvent] = createSignal<boolean>()

  const cards = createSynced<StateCards | undefined>(() => call((api) => api.dashboard.stateCards()), undefined)
  const queue = createSynced<ProcessQueue>(() => call((api) => api.dashboard.processQueue()), { items: [] }, { key: null })
  const health = createSynced<typeof HealthReport.Type>(() => call((api) => api.dashboard.health()), { checks: [] }, {
    key: "name"
  })
  const tunables = createSynced<typeof TunableList.Type | undefined>(
    () => call((api) => api.dashboard.tunables()),
    undefined,
    { key: "key" }
  )
  const charts = createSynced<Charts | undefined>(
    () => call((api) => api.dashboard.charts({ urlParams: { range: chartRange() } })),
    undefined,
    { key: null }
  )
  const sysadmin = createSynced<typeof Sysadmin.Type>(() => call((api) => api.dashboard.sysadmin()), { snippets: [] })
  const restart = createSynced<RestartStatus | undefined>(() => call((api) => api.ops.restartStatus()), undefined, {
    key: "key"
  })
  const commands = createPaged<CommandEntry>((cursor, limit) =>
    call((api) => api.dashboard.commandLog({ urlParams: { cursor, limit } }))
  , { pageSize: 25 })
  const notifications = createPaged<NotificationEntry>((cursor, limit) =>
    call((api) => api.dashboard.notifications({ urlParams: { cursor, limit } }))
  , { pageSize: 25 })

  const jobWatchers = new Set<() => void>()
  const jobsChanged = () => {
    for (const watcher of jobWatchers) watcher()
  }

  const rowsChanged = () => {
    cards.schedule()
    queue.schedule()
    jobsChanged()
  }

  const everything = () => {
    setOutageEvent(undefined)
    rowsChanged()
    health.schedule()
    tunables.schedule()
    charts.schedule()
    commands.schedule()
    notifications.schedule()
    restart.schedule()
  }
  const subscriptions = [
    events.on("insert", rowsChanged),
    events.on("transition", (event) => {
      rowsChanged()
      if (!isActive(event.to)) charts.schedule(1500)
    }),
    events.on("hold", () => {
      cards.schedule()
      queue.schedule()
    }),
    events.on("command", (event) => {
      commands.schedule()
      if (event.name === "set_tunable") {
        tunables.schedule()
        restart.schedule()
      }
    }),
    events.on("email", () => notifications.schedule()),
    events.on("outage", (event) => {
      setOutageEvent(event.down)
      cards.schedule()
      // Back from an outage: re-run the Firestore check so the panel does not keep the outage's failure.
      if (event.down) health.schedule()
      else void refreshHealth("firestore")
    }),
    events.on("cleanup", everything),
    events.onResync(everything)
  ]
  onCleanup(() => subscriptions.forEach((unsubscribe) => unsubscribe()))

  const refreshHealth = async (name?: HealthCheckName) => {
    const result = await call((api) => api.dashboard.refreshHealth({ urlParams: { name } }))
    // A single re-run answers with every cached check; take them all.
    if (result.ok) health.set({ checks: result.value.checks })
  }

  const data: DashboardData = {
    cards,
    queue,
    health,
    tunables,
    charts,
    sysadmin,
    restart,
    commands,
    notifications,
    get chartRange() {
      return chartRange()
    },
    setChartRange: (range) => {
      setChartRange(range)
      void charts.refetch()
    },
    get outage() {
      return outageEvent() ?? cards.value?.outage ?? false
    },
    refreshHealth,
    onJobsChanged: (handler) => {
      jobWatchers.add(handler)
      return () => void jobWatchers.delete(handler)
    }
  }

  return <DashboardContext.Provider value={data}>{props.children}</DashboardContext.Provider>
}

export const useDashboard = (): DashboardData => {
  const data = useContext(DashboardContext)
  if (data === undefined) throw new Error("useDashboard outside DashboardProvider")
  return data
}
