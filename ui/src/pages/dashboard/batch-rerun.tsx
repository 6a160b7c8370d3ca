/**
 * Batch rerun (admin): for succeeded documents whose pipeline has since been
 * fixed. For each selected document the server marks it failed for retry and
 * then retries it; each is tried on its own and reported on its own.
 */
import { createEffect, createSignal, For, on, Show } from "solid-js"
import type { BatchRerunResult } from "../../../../schemas/api.ts"
import { call } from "../../data/client.ts"
import { formatTime } from "../../data/format.ts"
import { useNotices } from "../../data/notices.tsx"
import { createPaged } from "../../data/paged.ts"
import { ActionButton } from "../../ui/button.tsx"
import { ItemResults } from "../../ui/itemResults.tsx"
import { Modal } from "../../ui/modal.tsx"
import { ListStatus } from "../../ui/panel.tsx"

const MAX_DOCS = 200

export const BatchRerunModal = (props: { readonly onClose: () => void }) => {
  const notices = useNotices()
  const [q, setQ] = createSignal("")
  const [selected, setSelected] = createSignal<ReadonlySet<string>>(new Set())
  const [result, setResult] = createSignal<typeof BatchRerunResult.Type>()

  const rows = createPaged(
    (cursor, limit) =>
      call((api) =>
        api.dashboard.listJobs({
          urlParams: { state: ["succeeded"], q: q().trim() === "" ? undefined : q().trim(), cursor, limit }
        })
      ),
    { lazy: true }
  )
  let timer: ReturnType<typeof setTimeout> | undefined
  createEffect(
    on(q, () => {
      if (timer !== undefined) clearTimeout(timer)
      timer = setTimeout(() => void rows.reset(), 300)
    })
  )

  const toggle = (doc: string) =>
    setSelected((set) => {
      const next = new Set(set)
      if (next.has(doc)) next.delete(doc)
      else next.add(doc)
      return next
    })

  const run = async () => {
    const docs = [...selected()]
    const outcome = await notices.act(`Batch rerun of ${docs.length}`, (api) => api.jobs.batchRerun({ payload: { docs } }))
    if (outcome.ok) {
      setResult(outcome.value)
      setSelected(new Set(outcome.value.results.filter((r) => !r.ok).map((r) => r.doc)))
      void rows.reset()
    }
  }

  return (
    <Modal
      title="Batch rerun"
      onClose={props.onClose}
      wide
      testId="batch-rerun"
      footer={
        <>
          <span class="muted">{selected().size} selected</span>
          <button type="button" class="button" onClick={() => props.onClose()}>
            Close
          </button>
          <ActionButton
            kind="danger"
            disabled={selected().size === 0 || selected().size > MAX_DOCS}
            confirm={`Re-run ${selected().size} succeeded document(s)? Each is marked failed in Firestore, then retried. Make sure the pipeline scripts are already updated.`}
            onClick={run}
          >
            Continue
          </ActionButton>
        </>
      }
    >
      <p class="muted">
        Re-runs succeeded jobs after a pipeline fix: each selected document is first marked failed for retry, then
        retried. Check that the pipeline scripts on the server are the version you want before continuing, and keep
        this page open until the results appear.
      </p>
      <input
        class="search"
        type="search"
        placeholder="Filter by document or patient id"
        value={q()}
        onInput={(e) => setQ(e.currentTarget.value)}
      />
      <Show when={selected().size > MAX_DOCS}>
        <p class="error">At most {MAX_DOCS} documents per batch.</p>
      </Show>
      <div class="table-wrap scroll-y">
        <table class="table">
          <thead>
            <tr>
              <th class="check" />
              <th>Document</th>
              <th>Service</th>
              <th>Patient</th>
              <th>Finished</th>
            </tr>
          </thead>
          <tbody>
            <For each={rows.items}>
              {(row) => (
                <tr class="clickable" onClick={() => toggle(row.doc_id)}>
                  <td class="check">
                    <input
                      type="checkbox"
                      aria-label={`Select ${row.doc_id}`}
                      checked={selected().has(row.doc_id)}
                      onClick={(e) => e.stopPropagation()}
                      onChange={() => toggle(row.doc_id)}
                    />
                  </td>
                  <td class="mono">{row.doc_id}</td>
                  <td>{row.service}</td>
                  <td class="mono">{row.patient_id ?? "—"}</td>
                  <td>{formatTime(row.finished_at)}</td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </div>
      <ListStatus
        loading={rows.loading}
        loaded={rows.loaded}
        error={rows.error}
        empty={rows.items.length === 0}
        emptyText="No succeeded jobs match."
      />
      <Show when={rows.hasMore}>
        <button type="button" class="button load-more" onClick={() => void rows.loadMore()}>
          Load more
        </button>
      </Show>
      <Show when={result()}>
        {(r) => <ItemResults label="Result" result={r()} yes="re-run" testId="batch-result" />}
      </Show>
    </Modal>
  )
}
