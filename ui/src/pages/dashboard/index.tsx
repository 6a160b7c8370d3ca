/** The dashboard: header, outage banner, state cards, work queues, history and tools. */
import { createEffect, createSignal, Match, on, Show, Switch } from "solid-js"
import { call } from "../../data/client.ts"
import { closeDoc, route } from "../../data/route.ts"
import { Modal } from "../../ui/modal.tsx"
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
  /** `#/run/<id>` names a run; its document is asked of the server once per run id. */
  const [runTarget, setRunTarget] = createSignal<{ readonly run: number; readonly doc?: string; readonly error?: string }>()
  const wantedRun = () => {
    const r = route()
    return r.page === "dashboard" ? r.run : undefined
  }
  createEffect(
    on(wantedRun, async (run) => {
      // Object.is: a non-numeric run is NaN, and NaN is not === to itself.
      if (run === undefined || Object.is(runTarget()?.run, run)) return
      if (Number.isNaN(run)) {
        setRunTarget({ run, error: "That link does not name a run: a run is a number, as in #/run/42." })
        return
      }
      setRunTarget({ run })
      const found = await call((api) => api.dashboard.runLog({ path: { run } }))
      if (!Object.is(wantedRun(), run)) return
      setRunTarget(found.ok ? { run, doc: found.value.doc } : { run, error: found.message })
    })
  )
  const doc = () => {
    const r = route()
    if (r.page !== "dashboard") return undefined
    if (r.doc !== undefined) return r.doc
    const target = runTarget()
    return r.run !== undefined && target !== undefined && Object.is(target.run, r.run) ? target.doc : undefined
  }
  const runError = () => {
    const target = runTarget()
    return target !== undefined && Object.is(target.run, wantedRun()) ? target.error : undefined
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
        {(id) => <DocDrawer doc={id} run={wantedRun()} />}
      </Show>
      <Show when={runError()}>
        {(message) => (
          <Modal side title="Run not found" onClose={closeDoc} testId="drawer">
            <p class="error" role="alert" data-testid="drawer-error">
              {message()}
            </p>
          </Modal>
        )}
      </Show>
    </div>
  )
}
