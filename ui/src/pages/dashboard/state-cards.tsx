/**
 * One card per group of states with its count; a card opens a list of the
 * rows in its states. The groups follow the operator's questions: what runs,
 * what waits, what is done, what needs a human.
 */
import { For, onCleanup, Show } from "solid-js"
import type { StateCards as Cards } from "../../../../schemas/api.ts"
import type { JobState } from "../../../../schemas/job.ts"
import { call } from "../../data/client.ts"
import { useDashboard } from "../../data/dashboard.tsx"
import { createPaged } from "../../data/paged.ts"
import { openDoc } from "../../data/route.ts"
import { Modal } from "../../ui/modal.tsx"
import { ListStatus } from "../../ui/panel.tsx"
import { JobTable } from "./job-table.tsx"

export type CardId = "running" | "queued" | "waiting" | "succeeded" | "retrying" | "failed" | "failedSync"

interface CardSpec {
  readonly id: CardId
  readonly title: string
  readonly states: readonly [JobState, ...Array<JobState>]
  readonly count: (cards: Cards) => number
  readonly sub: (cards: Cards) => string
  readonly tone: string
}

const CARDS: readonly [CardSpec, ...Array<CardSpec>] = [
  { id: "running", title: "Running", states: ["running"], count: (c) => c.running, sub: () => "pipelines in progress", tone: "running" },
  { id: "queued", title: "Queued", states: ["queued"], count: (c) => c.queued, sub: () => "waiting for a worker", tone: "queued" },
  {
    id: "waiting",
    title: "Waiting",
    states: ["waiting_cooldown"],
    count: (c) => c.waiting.total,
    sub: (c) => `${c.waiting.cooldown} cooldown · ${c.waiting.syncRetry} sync retry · ${c.waiting.manualHolds} manual hold`,
    tone: "waiting"
  },
  { id: "succeeded", title: "Succeeded", states: ["succeeded"], count: (c) => c.succeeded, sub: () => "finished", tone: "succeeded" },
  {
    id: "retrying",
    title: "Retried",
    states: ["failed_retrying", "temp_failed"],
    count: (c) => c.retrying,
    sub: (c) => `${c.counts.failed_retrying} failed, retried · ${c.counts.temp_failed} temp failed`,
    tone: "retrying"
  },
  {
    id: "failed",
    title: "Failed - needs a human",
    states: ["failed_permanent"],
    count: (c) => c.needsHuman,
    sub: (c) => `of ${c.failed} failed rows; not counted: retried, withdrawn, killed, rerun steps`,
    tone: "failed"
  },
  {
    id: "failedSync",
    title: "Failed sync",
    states: ["failed_sync"],
    count: (c) => c.failedSync,
    sub: () => "Firestore write failed; retry scheduled",
    tone: "sync"
  }
]

const specOf = (id: CardId): CardSpec => CARDS.find((c) => c.id === id) ?? CARDS[0]

export const StateCards = (props: { readonly open: (card: CardId) => void }) => {
  const data = useDashboard()
  return (
    <section class="cards" aria-label="Jobs by state">
      <For each={CARDS}>
        {(card) => (
          <button
            type="button"
            class={`card card-${card.tone}`}
            data-testid={`card-${card.id}`}
            onClick={() => props.open(card.id)}
          >
            <span class="card-title">{card.title}</span>
            <span class="card-count" data-testid={`count-${card.id}`}>
              {data.cards.value === undefined ? "…" : card.count(data.cards.value)}
            </span>
            <span class="card-sub">{data.cards.value === undefined ? "" : card.sub(data.cards.value)}</span>
          </button>
        )}
      </For>
    </section>
  )
}

export const StateCardModal = (props: { readonly card: CardId; readonly onClose: () => void }) => {
  const data = useDashboard()
  const spec = specOf(props.card)
  // The Failed card lists what it counts (see the Help's state topic), not every failed row.
  const rows = createPaged((cursor, limit) =>
    props.card === "failed"
      ? call((api) => api.dashboard.needsHuman({ urlParams: { cursor, limit } }))
      : call((api) => api.dashboard.listJobs({ urlParams: { state: spec.states, cursor, limit } }))
  )
  onCleanup(data.onJobsChanged(() => rows.schedule()))
  const holds = () => data.queue.value.items.flatMap((item) => (item._tag === "hold" ? [item] : []))

  return (
    <Modal title={`${spec.title} — ${spec.states.join(", ")}`} onClose={props.onClose} wide testId="state-modal">
      <Show when={props.card === "failed"}>
        <p class="muted">
          Documents whose newest attempt failed for good and was not ended on purpose: retries used up, a report that
          cannot run, or an attempt that recovery gave up on. Withdrawals, kills and the first step of a rerun are not
          listed; the Jobs table shows every failed row.
        </p>
      </Show>
      <Show when={props.card === "waiting"}>
        <p class="muted">
          Timed holds are listed below (the Process Queue shows why each waits). Manual holds ({holds().length}) have no row until released:
          <For each={holds()}>
            {(h) => (
              <button type="button" class="chip hold-chip" onClick={() => { props.onClose(); openDoc(h.doc) }}>
                H{h.hold} {h.doc}
              </button>
            )}
          </For>
        </p>
      </Show>
      <JobTable rows={rows.items} onOpen={props.onClose} />
      <ListStatus loading={rows.loading} loaded={rows.loaded} error={rows.error} empty={rows.items.length === 0} emptyText="No rows in this state." />
      <Show when={rows.hasMore}>
        <button type="button" class="button load-more" disabled={rows.loading} onClick={() => void rows.loadMore()}>
          Load more
        </button>
      </Show>
    </Modal>
  )
}
