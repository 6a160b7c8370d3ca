/** The dashboard: header, outage banner, state cards, work queues, history and tools. */
import { createSignal, Match, Show, Switch } from "solid-js"
import { route } from "../../data/route.ts"
import { BatchRerunModal } from "./batch-rerun.tsx"
import { ChartsPanel } from "./charts.tsx"
import { CommandLogPanel } from "./command-log.tsx"
import { ConfigModal } from "./config.tsx"
import { DocDrawer } from "./drawer.tsx"
import { Header, type HeaderModal } from "./header.tsx"
import { HealthPanel } from "./health.tsx"
import { JobsPanel } from "./jobs.tsx"
import { ManualAddModal } from "./manual-add.tsx"
import { NotificationsPanel } from "./notifications.tsx"
import { OutageBanner } from "./outage.tsx"
import { ProcessQueuePanel } from "./process-queue.tsx"
import { type CardId, StateCardModal, StateCards } from "./state-cards.tsx"
import { SysadminPanel } from "./sysadmin.tsx"

export const DashboardPage = () => {
  const [modal, setModal] = createSignal<HeaderModal>()
  const [card, setCard] = createSignal<CardId>()
  const doc = () => {
    const r = route()
    return r.page === "dashboard" ? r.doc : undefined
  }

  return (
    <div class="page">
      <Header open={setModal} />
      <main class="dashboard">
        <OutageBanner />
        <StateCards open={setCard} />
        <ProcessQueuePanel />
        <JobsPanel />
        <div class="columns">
          <HealthPanel />
          <ChartsPanel />
        </div>
        <div class="columns">
          <CommandLogPanel />
          <NotificationsPanel />
        </div>
        <SysadminPanel />
      </main>

      <Switch>
        <Match when={modal() === "manual-add"}>
          <ManualAddModal onClose={() => setModal(undefined)} />
        </Match>
        <Match when={modal() === "batch-rerun"}>
          <BatchRerunModal onClose={() => setModal(undefined)} />
        </Match>
        <Match when={modal() === "config"}>
          <ConfigModal onClose={() => setModal(undefined)} />
        </Match>
      </Switch>
      <Show when={card()}>{(id) => <StateCardModal card={id()} onClose={() => setCard(undefined)} />}</Show>
      <Show when={doc()} keyed>
        {(id) => <DocDrawer doc={id} />}
      </Show>
    </div>
  )
}
