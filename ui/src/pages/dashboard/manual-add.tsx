/**
 * Manual Add: orders whose lab data will not arrive by itself. Each report id
 * is checked by the server (validate one, or a CSV of many) without adding
 * anything; what passes goes to a pending list; Submit adds them all as
 * manual holds, which wait in the Process Queue for Release.
 *
 * A verdict belongs to the id it was given for: typing another id clears it,
 * so an old "can add" never stands next to a new id. An id that cannot be a
 * report id is refused here, in the same sentence the server would use.
 */
import { Either, ParseResult, Schema } from "effect"
import { createSignal, For, Show } from "solid-js"
import { type BulkResult, DocId, type ManualAddVerdict } from "../../../../schemas/api.ts"
import { call } from "../../data/client.ts"
import { useNotices } from "../../data/notices.tsx"
import { OkBadge } from "../../ui/badge.tsx"
import { ActionButton } from "../../ui/button.tsx"
import { ItemResults } from "../../ui/itemResults.tsx"
import { Modal } from "../../ui/modal.tsx"

type Verdict = ManualAddVerdict & { readonly line?: number }

export const ManualAddModal = (props: { readonly onClose: () => void }) => {
  const notices = useNotices()
  const [id, setId] = createSignal("")
  const [verdicts, setVerdicts] = createSignal<ReadonlyArray<Verdict>>([])
  const [pending, setPending] = createSignal<ReadonlyArray<ManualAddVerdict>>([])
  const [problem, setProblem] = createSignal<string>()
  const [submitted, setSubmitted] = createSignal<BulkResult>()

  const addPending = (accepted: ReadonlyArray<ManualAddVerdict>) =>
    setPending((list) => [...list, ...accepted.filter((v) => v.ok && !list.some((p) => p.doc === v.doc))])

  const checkId = Schema.decodeUnknownEither(DocId)

  const validateOne = async () => {
    const doc = id().trim()
    if (doc === "") return
    setProblem(undefined)
    const shape = checkId(doc)
    if (Either.isLeft(shape)) {
      const first = ParseResult.ArrayFormatter.formatErrorSync(shape.left)[0]
      setVerdicts([
        { doc, ok: false, message: first?.message ?? "not a report id", service: null, patientId: null, patientName: null }
      ])
      return
    }
    const result = await call((api) => api.holds.validateManualAdd({ payload: { doc } }))
    if (!result.ok) {
      setProblem(result.message)
      return
    }
    setVerdicts([result.value])
    if (result.value.ok) {
      addPending([result.value])
      setId("")
    }
  }

  const validateCsv = async (file: File) => {
    setProblem(undefined)
    const csv = await file.text()
    const result = await call((api) => api.holds.validateManualAddCsv({ payload: { csv } }))
    if (!result.ok) {
      setProblem(result.message)
      return
    }
    setVerdicts(result.value.rows)
    addPending(result.value.rows)
  }

  const submit = async () => {
    const docs = pending().map((p) => p.doc)
    if (docs.length === 0) return
    const outcome = await notices.act(`Manual Add of ${docs.length}`, (api) => api.holds.manualAdd({ payload: { docs } }))
    if (outcome.ok) {
      setSubmitted(outcome.value)
      const added = new Set(outcome.value.results.filter((r) => r.ok).map((r) => r.doc))
      setPending((list) => list.filter((p) => !added.has(p.doc)))
    }
  }

  return (
    <Modal
      title="Manual Add"
      onClose={props.onClose}
      wide
      testId="manual-add"
      footer={
        <>
          <span class="muted">{pending().length} pending</span>
          <button type="button" class="button" onClick={() => props.onClose()}>
            Close
          </button>
          <ActionButton kind="primary" disabled={pending().length === 0} onClick={submit}>
            Submit {pending().length > 0 ? `(${pending().length})` : ""}
          </ActionButton>
        </>
      }
    >
      <p class="muted">
        For orders that exist in Firestore but whose lab data will not come in on its own. Each one is put on hold and
        the lab team is emailed; once they confirm the upload, Release the hold in the Process Queue to run it.
      </p>
      <div class="manual-inputs">
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault()
            void validateOne()
          }}
        >
          <input
            placeholder="report id"
            aria-label="Report id"
            value={id()}
            onInput={(e) => {
              setId(e.currentTarget.value)
              setVerdicts([])
              setProblem(undefined)
            }}
          />
          <button type="submit" class="button" disabled={id().trim() === ""}>
            Validate
          </button>
        </form>
        <label class="file">
          or upload a CSV (one report_id per line):
          <input
            type="file"
            aria-label="CSV upload, one id per line"
            accept=".csv,text/csv,text/plain"
            onChange={(e) => {
              const file = e.currentTarget.files?.[0]
              if (file !== undefined) void validateCsv(file)
              e.currentTarget.value = ""
            }}
          />
        </label>
      </div>
      <Show when={problem()}>
        <p class="error" role="alert">
          {problem()}
        </p>
      </Show>
      <Show when={verdicts().length > 0}>
        <h3>Checked</h3>
        <table class="table" data-testid="verdicts">
          <thead>
            <tr>
              <Show when={verdicts().some((v) => v.line !== undefined)}>
                <th class="num">Line</th>
              </Show>
              <th>Report</th>
              <th>Verdict</th>
              <th>Message</th>
            </tr>
          </thead>
          <tbody>
            <For each={verdicts()}>
              {(v) => (
                <tr>
                  <Show when={v.line !== undefined}>
                    <td class="num">{v.line}</td>
                  </Show>
                  <td class="mono">{v.doc}</td>
                  <td>
                    <OkBadge ok={v.ok} yes="can add" no="refused" />
                  </td>
                  <td>{v.message}</td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </Show>
      <h3>Pending</h3>
      <Show when={pending().length > 0} fallback={<p class="muted">Nothing pending yet.</p>}>
        <table class="table" data-testid="pending">
          <thead>
            <tr>
              <th>Report</th>
              <th>Service</th>
              <th>Patient</th>
              <th>
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            <For each={pending()}>
              {(p) => (
                <tr>
                  <td class="mono">{p.doc}</td>
                  <td>{p.service ?? "—"}</td>
                  <td>
                    <span class="mono">{p.patientId ?? "—"}</span> {p.patientName ?? ""}
                  </td>
                  <td class="actions">
                    <button
                      type="button"
                      class="button button-small"
                      onClick={() => setPending((list) => list.filter((x) => x.doc !== p.doc))}
                      aria-label={`Remove ${p.doc}`}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </Show>
      <Show when={submitted()}>
        {(s) => <ItemResults label="Submitted" result={s()} yes="added" />}
      </Show>
    </Modal>
  )
}
