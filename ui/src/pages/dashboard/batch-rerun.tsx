/**
 * Batch rerun (admin): for succeeded documents whose pipeline has since been
 * fixed. For each selected document the server marks it failed for retry and
 * then retries it; each is tried on its own and reported on its own.
 *
 * The batch runs on the server as a job with an id. The page follows it over
 * its event stream, item by item; closing the page does not stop it, and
 * opening this dialog again (here or in another browser) re-attaches to the
 * newest batch still running, or shows the outcome of the last one this
 * browser started.
 */
import { createEffect, createSignal, For, on, onCleanup, onMount, Show } from "solid-js"
import { BatchJob } from "../../../../schemas/api.ts"
import { Either, Schema } from "effect"
import { call, endpointPath } from "../../data/client.ts"
import { formatTime } from "../../data/format.ts"
import { useNotices } from "../../data/notices.tsx"
import { createPaged } from "../../data/paged.ts"
import { hrefDoc } from "../../data/route.ts"
import { ActionButton } from "../../ui/button.tsx"
import { Modal } from "../../ui/modal.tsx"
import { ListStatus } from "../../ui/panel.tsx"

const MAX_DOCS = 200
const LAST_BATCH_KEY = "lomi.lastBatchRerun"
const decodeJob = Schema.decodeUnknownEither(Schema.parseJson(BatchJob))

const STATUS_LABEL = {
  pending: "waiting",
  marking: "marking failed…",
  retrying: "retrying…",
  done: "re-run",
  refused: "refused"
} as const

export const BatchRerunModal = (props: { readonly onClose: () => void }) => {
  const notices = useNotices()
  const [q, setQ] = createSignal("")
  const [selected, setSelected] = createSignal<ReadonlySet<string>>(new Set())
  const [job, setJob] = createSignal<BatchJob>()
  const [problem, setProblem] = createSignal<string>()
  let source: EventSource | undefined

  const follow = (id: string) => {
    source?.close()
    const es = new EventSource(endpointPath("jobs", "batchRerunStream", { batch: id }))
    source = es
    es.onmessage = (message: MessageEvent<string>) => {
      const decoded = decodeJob(message.data)
      if (Either.isRight(decoded)) setJob(decoded.right)
    }
    es.addEventListener("end", () => {
      es.close()
      void rows.reset()
    })
    es.onerror = () => {
      // A dropped stream is reopened by the browser; a refused one (the batch is gone after a restart) is not.
      if (es.readyState === EventSource.CLOSED) setProblem("Lost the batch's progress feed; it may have ended with a restart.")
    }
  }
  onCleanup(() => source?.close())

  onMount(async () => {
    const list = await call((api) => api.jobs.batchReruns())
    if (!list.ok) return
    const running = list.value.items.find((j) => j.state === "running")
    const remembered = list.value.items.find((j) => j.id === localStorage.getItem(LAST_BATCH_KEY))
    const attach = running ?? remembered
    if (attach === undefined) return
    setJob(attach)
    if (attach.state === "running") follow(attach.id)
  })

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

  const running = () => job()?.state === "running"

  const run = async () => {
    const docs = [...selected()]
    setProblem(undefined)
    const outcome = await call((api) => api.jobs.startBatchRerun({ payload: { docs } }))
    if (!outcome.ok) {
      notices.push(`Batch rerun of ${docs.length}`, { ok: false, message: outcome.message })
      return
    }
    localStorage.setItem(LAST_BATCH_KEY, outcome.value.id)
    setJob(outcome.value)
    setSelected(new Set<string>())
    follow(outcome.value.id)
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
            disabled={selected().size === 0 || selected().size > MAX_DOCS || running()}
            reason={running() ? "A batch is still running; wait for it to finish." : selected().size === 0 ? "Select at least one document below." : `At most ${MAX_DOCS} documents per batch.`}
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
        retried. Check that the pipeline scripts on the server are the version you want before continuing. The batch
        runs on the server: you may close this page, and opening Batch rerun again shows its progress.
      </p>
      <input
        class="search"
        type="search"
        placeholder="Filter by document or patient id"
        aria-label="Filter succeeded jobs by document or patient id"
        value={q()}
        onInput={(e) => setQ(e.currentTarget.value)}
      />
      <Show when={selected().size > MAX_DOCS}>
        <p class="error">At most {MAX_DOCS} documents per batch.</p>
      </Show>
      <div class="table-wrap scroll-y" tabIndex={0} role="region" aria-label="Succeeded jobs">
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
      <Show when={problem()}>
        <p class="error" role="alert">
          {problem()}
        </p>
      </Show>
      <Show when={job()}>
        {(j) => (
          <section class="batch-progress bulk-summary" classList={{ "bulk-failed": j().refused > 0 }} data-testid="batch-result" data-batch={j().id} data-state={j().state}>
            <div>
              <strong>Batch {j().id}</strong> started by {j().startedBy} at {formatTime(j().startedAt)}:{" "}
              <span data-testid="batch-summary">
                {j().done + j().refused} of {j().items.length} handled, {j().done} re-run, {j().refused} refused
                {j().state === "finished" ? " (finished)" : " (running)"}
              </span>
            </div>
            <progress
              max={j().items.length}
              value={j().done + j().refused}
              aria-label={`Batch ${j().id} progress`}
            />
            <ul class="batch-items">
              <For each={j().items}>
                {(item) => (
                  <li data-doc={item.doc} data-status={item.status}>
                    <a class="mono" href={hrefDoc(item.doc)}>
                      {item.doc}
                    </a>
                    <span class="badge" classList={{ "badge-ok": item.status === "done", "badge-bad": item.status === "refused" }}>
                      {STATUS_LABEL[item.status]}
                    </span>
                    <span class="small">{item.message}</span>
                  </li>
                )}
              </For>
            </ul>
          </section>
        )}
      </Show>
    </Modal>
  )
}
