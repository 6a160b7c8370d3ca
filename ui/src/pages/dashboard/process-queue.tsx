/**
 * Work that is blocked on something: manual holds (purple, H#), waiting for
 * an operator's Release, then timed cooldown rows (#) in due order. A row's
 * tint says why it waits: sync retry light orange, OCR re-run light blue.
 * Holds can be selected for a bulk Release or Cancel; each is tried on its
 * own and the ones that were refused stay, listed with their reasons.
 */
import { createMemo, createSignal, For, Match, Show, Switch } from "solid-js"
import type { BulkResult, ProcessQueue } from "../../../../schemas/api.ts"
import { now } from "../../data/clock.ts"
import { useDashboard } from "../../data/dashboard.tsx"
import { COOLDOWN_LABEL, formatRelative, formatTime } from "../../data/format.ts"
import { useNotices } from "../../data/notices.tsx"
import { hrefDoc } from "../../data/route.ts"
import { useSession } from "../../data/session.tsx"
import { ActionButton } from "../../ui/button.tsx"
import { ListStatus, Panel } from "../../ui/panel.tsx"

type Item = ProcessQueue["items"][number]
type Hold = Extract<Item, { readonly _tag: "hold" }>
type Cooldown = Extract<Item, { readonly _tag: "cooldown" }>

export const ProcessQueuePanel = () => {
  const data = useDashboard()
  const session = useSession()
  const notices = useNotices()
  const [selected, setSelected] = createSignal<ReadonlySet<string>>(new Set())
  const [bulk, setBulk] = createSignal<{ readonly title: string; readonly result: BulkResult }>()

  const items = () => data.queue.value.items
  const holds = createMemo(() => items().flatMap((i): Array<Hold> => (i._tag === "hold" ? [i] : [])))
  const holdDocs = createMemo(() => new Set(holds().map((h) => h.doc)))
  /** Selections of holds that have since left the queue do not count. */
  const chosen = createMemo(() => [...selected()].filter((d) => holdDocs().has(d)))
  const allChosen = () => holds().length > 0 && chosen().length === holds().length
  const canAct = () => session.can("operator")

  const toggle = (doc: string) =>
    setSelected((set) => {
      const next = new Set(set)
      if (next.has(doc)) next.delete(doc)
      else next.add(doc)
      return next
    })
  const toggleAll = () => setSelected(allChosen() ? new Set<string>() : new Set(holds().map((h) => h.doc)))

  const runBulk = async (title: string, which: "releaseMany" | "cancelMany") => {
    const docs = chosen()
    if (docs.length === 0) return
    const outcome = await notices.act(title, (api) => api.holds[which]({ payload: { docs } }))
    if (outcome.ok) {
      setBulk({ title, result: outcome.value })
      // Keep the refused ones selected so they can be looked at or tried again.
      setSelected(new Set(outcome.value.results.filter((r) => !r.ok).map((r) => r.doc)))
    }
  }

  const release = (h: Hold) => notices.act(`Release ${h.doc}`, (api) => api.holds.release({ path: { doc: h.doc } }))
  const cancelHold = (h: Hold) => notices.act(`Cancel hold ${h.doc}`, (api) => api.holds.cancelHold({ path: { doc: h.doc } }))
  const skip = (c: Cooldown) => notices.act(`Skip #${c.run}`, (api) => api.jobs.skip({ path: { run: c.run } }))
  const cancelRun = (c: Cooldown) => notices.act(`Cancel #${c.run}`, (api) => api.jobs.kill({ path: { run: c.run } }))

  return (
    <Panel
      title={
        <>
          Process Queue <span class="count">{items().length}</span>
        </>
      }
      id="process-queue"
    >
      <Show when={chosen().length > 0}>
        <div class="toolbar" data-testid="hold-toolbar">
          <span>{chosen().length} hold(s) selected</span>
          <ActionButton kind="primary" disabled={!canAct()} reason={session.why("operator")} onClick={() => runBulk("Release selected holds", "releaseMany")}>
            Release all
          </ActionButton>
          <ActionButton
            kind="danger"
            disabled={!canAct()} reason={session.why("operator")}
            confirm={`Cancel ${chosen().length} manual hold(s)? The orders stay in Firestore; the allocator stops tracking them.`}
            onClick={() => runBulk("Cancel selected holds", "cancelMany")}
          >
            Cancel all
          </ActionButton>
          <button type="button" class="button button-small" onClick={() => setSelected(new Set<string>())}>
            Clear selection
          </button>
        </div>
      </Show>
      <Show when={bulk()}>
        {(b) => (
          <div class="bulk-summary" classList={{ "bulk-failed": !b().result.ok }} data-testid="bulk-summary">
            <div class="bulk-head">
              <span>
                <strong>{b().title}:</strong> {b().result.message}
              </span>
              <button type="button" class="icon-button" aria-label="Dismiss" onClick={() => setBulk(undefined)}>
                ×
              </button>
            </div>
            <Show when={b().result.results.some((r) => !r.ok)}>
              <ul>
                <For each={b().result.results.filter((r) => !r.ok)}>
                  {(r) => (
                    <li>
                      <span class="mono">{r.doc}</span>: {r.message}
                    </li>
                  )}
                </For>
              </ul>
            </Show>
          </div>
        )}
      </Show>
      <div class="table-wrap">
        <table class="table queue-table" data-testid="queue-table">
          <thead>
            <tr>
              <th class="check">
                <input
                  type="checkbox"
                  aria-label="Select every hold"
                  title="Select every hold (timed rows cannot be selected)"
                  checked={allChosen()}
                  disabled={holds().length === 0}
                  onChange={toggleAll}
                />
              </th>
              <th>ID</th>
              <th>Document</th>
              <th>Service</th>
              <th>Patient</th>
              <th>Waiting for</th>
              <th>Due</th>
              <th class="actions">Actions</th>
            </tr>
          </thead>
          <tbody>
            <For each={items()}>
              {(item) => (
                <Switch>
                  <Match when={item._tag === "hold" && item}>
                    {(hold) => (
                      <tr class="row-hold" data-doc={hold().doc} data-testid="queue-hold">
                        <td class="check">
                          <input
                            type="checkbox"
                            aria-label={`Select hold ${hold().doc}`}
                            checked={selected().has(hold().doc)}
                            onChange={() => toggle(hold().doc)}
                          />
                        </td>
                        <td class="mono hold-id">H{hold().hold}</td>
                        <td class="mono">
                          <a class="link" href={hrefDoc(hold().doc)}>
                            {hold().doc}
                          </a>
                        </td>
                        <td>{hold().service}</td>
                        <td>
                          <span class="mono">{hold().patientId}</span>
                          <Show when={hold().patientName}>
                            <span class="muted"> {hold().patientName}</span>
                          </Show>
                        </td>
                        <td>
                          Manual hold: lab upload
                          <span class="muted small">
                            {" "}
                            since {formatTime(hold().createdAt)}
                            {hold().createdBy === null ? "" : ` by ${hold().createdBy}`}
                          </span>
                        </td>
                        <td class="muted">no timer</td>
                        <td class="actions">
                          <ActionButton kind="small" disabled={!canAct()} reason={session.why("operator")} onClick={() => release(hold())}>
                            Release
                          </ActionButton>
                          <ActionButton
                            kind="small-danger"
                            disabled={!canAct()} reason={session.why("operator")}
                            confirm={`Cancel the manual hold on ${hold().doc}?`}
                            onClick={() => cancelHold(hold())}
                          >
                            Cancel hold
                          </ActionButton>
                        </td>
                      </tr>
                    )}
                  </Match>
                  <Match when={item._tag === "cooldown" && item}>
                    {(row) => (
                      <tr
                        class={`row-cooldown kind-${row().kind}`}
                        data-run={row().run}
                        data-doc={row().doc}
                        data-testid="queue-cooldown"
                      >
                        <td class="check" />
                        <td class="mono">#{row().run}</td>
                        <td class="mono">
                          <a class="link" href={hrefDoc(row().doc)}>
                            {row().doc}
                          </a>
                        </td>
                        <td>{row().service}</td>
                        <td>
                          <span class="mono">{row().patientId ?? "—"}</span>
                          <Show when={row().patientName}>
                            <span class="muted"> {row().patientName}</span>
                          </Show>
                        </td>
                        <td>
                          <span class={`kind kind-tag-${row().kind}`}>{COOLDOWN_LABEL[row().kind]}</span>
                          <span class="muted small"> attempt {row().attempt}</span>
                        </td>
                        <td title={formatTime(row().dueAt)}>
                          {formatTime(row().dueAt)}
                          <div class="muted small">{formatRelative(row().dueAt, now())}</div>
                        </td>
                        <td class="actions">
                          <ActionButton kind="small" disabled={!canAct()} reason={session.why("operator")} onClick={() => skip(row())} testId="skip">
                            Skip
                          </ActionButton>
                          <ActionButton
                            kind="small-danger"
                            disabled={!canAct()} reason={session.why("operator")}
                            confirm={`Cancel run #${row().run} of ${row().doc}? It is marked failed and Firestore is set to Failed.`}
                            onClick={() => cancelRun(row())}
                          >
                            Cancel
                          </ActionButton>
                        </td>
                      </tr>
                    )}
                  </Match>
                </Switch>
              )}
            </For>
          </tbody>
        </table>
      </div>
      <ListStatus
        loading={data.queue.loading}
        loaded={data.queue.loaded}
        error={data.queue.error}
        empty={items().length === 0}
        emptyText="Nothing is waiting."
      />
      <p class="legend-line small muted">
        <span class="swatch swatch-hold" /> manual hold <span class="swatch swatch-sync" /> sync retry{" "}
        <span class="swatch swatch-ocr" /> OCR re-run <span class="swatch swatch-plain" /> other timed holds
      </p>
    </Panel>
  )
}
