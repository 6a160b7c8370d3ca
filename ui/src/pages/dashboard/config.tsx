/**
 * Config (admin): the tunables with their default, current value, range,
 * whether a restart is needed, and who changed them last. Only edited keys
 * are sent; the server checks them all before storing any. When a key that
 * needs a restart has a stored value the running allocator does not use yet,
 * the modal lists it and offers "Restart now".
 */
import { createMemo, createSignal, For, Show } from "solid-js"
import type { SetTunablesResult } from "../../../../schemas/api.ts"
import { type TunableKey, tunableProblem } from "../../../../schemas/tunables.ts"
import { useDashboard } from "../../data/dashboard.tsx"
import { formatTime } from "../../data/format.ts"
import { useNotices } from "../../data/notices.tsx"
import { useSession } from "../../data/session.tsx"
import { OkBadge } from "../../ui/badge.tsx"
import { ActionButton } from "../../ui/button.tsx"
import { Modal } from "../../ui/modal.tsx"
import { RestartPanel } from "./restart.tsx"

export const ConfigModal = (props: { readonly onClose: () => void }) => {
  const data = useDashboard()
  const session = useSession()
  const notices = useNotices()
  const [draft, setDraft] = createSignal<Readonly<Partial<Record<TunableKey, string>>>>({})
  const [saved, setSaved] = createSignal<typeof SetTunablesResult.Type>()

  const items = () => data.tunables.value?.items ?? []
  const changes = createMemo(() =>
    items().flatMap((t) => {
      const text = draft()[t.key]
      if (text === undefined || text.trim() === "") return []
      const value = Number(text)
      return value === t.current ? [] : [{ key: t.key, value, problem: tunableProblem(t.key, value) }]
    })
  )
  const problems = () => changes().flatMap((c) => (c.problem === undefined ? [] : [c.problem]))

  const save = async () => {
    const values = Object.fromEntries(changes().map((c) => [c.key, c.value]))
    const outcome = await notices.act("Save config", (api) => api.tunables.setTunables({ payload: { values } }))
    if (outcome.ok) {
      setSaved(outcome.value)
      const done = new Set(outcome.value.results.filter((r) => r.ok).map((r) => r.key))
      setDraft((d) => Object.fromEntries(Object.entries(d).filter(([k]) => !done.has(k))))
      void data.tunables.refetch()
    }
  }

  return (
    <Modal
      title="Config"
      onClose={props.onClose}
      wide
      testId="config"
      footer={
        <>
          <span class="muted">{changes().length} change(s)</span>
          <button type="button" class="button" onClick={() => setDraft({})} disabled={changes().length === 0}>
            Discard
          </button>
          <ActionButton
            kind="primary"
            disabled={changes().length === 0 || problems().length > 0 || !session.can("admin")}
            reason={session.why("admin") ?? (problems().length > 0 ? "Fix the values marked above first." : "Nothing changed yet.")}
            onClick={save}
          >
            Save
          </ActionButton>
        </>
      }
    >
      <p class="muted">
        Changes are stored by the allocator and picked up without a restart, except where marked. Paths, addresses and
        recipients live in the configuration file on the server.
        <Show when={data.tunables.value}>
          {(t) => <> Workers in effect now: <strong>{t().effectiveMaxWorkers}</strong>.</>}
        </Show>
      </p>
      <Show when={saved()}>
        {(s) => (
          <div class="bulk-summary" classList={{ "bulk-failed": !s().ok }} data-testid="config-result">
            <strong>Saved:</strong> {s().message}
            <Show when={s().results.some((r) => !r.ok)}>
              <ul>
                <For each={s().results.filter((r) => !r.ok)}>{(r) => <li>{r.key}: {r.message}</li>}</For>
              </ul>
            </Show>
            <Show when={s().restartRequired.length > 0}>
              <div> Restart needed for {s().restartRequired.join(", ")}.</div>
            </Show>
          </div>
        )}
      </Show>
      <RestartPanel />
      <Show when={problems().length > 0}>
        <ul class="error">
          <For each={problems()}>{(p) => <li>{p}</li>}</For>
        </ul>
      </Show>
      <div class="table-wrap">
        <table class="table config-table">
          <thead>
            <tr>
              <th>Key</th>
              <th class="num">Default</th>
              <th>Current</th>
              <th>Range</th>
              <th>Restart?</th>
              <th>Last change</th>
            </tr>
          </thead>
          <tbody>
            <For each={items()}>
              {(t) => (
                <tr classList={{ changed: changes().some((c) => c.key === t.key) }}>
                  <td>
                    <div class="mono">{t.key}</div>
                    <div class="muted small" id={`desc-${t.key}`}>
                      {t.description}
                    </div>
                  </td>
                  <td class="num">{t.default}</td>
                  <td>
                    <input
                      type="number"
                      class="num-input"
                      aria-label={t.key}
                      aria-describedby={`desc-${t.key}`}
                      min={t.min}
                      max={t.max}
                      step="1"
                      value={draft()[t.key] ?? String(t.current)}
                      onInput={(e) => {
                        const value = e.currentTarget.value
                        setDraft((d) => ({ ...d, [t.key]: value }))
                      }}
                    />
                    <Show when={t.current !== t.default}>
                      <span class="note">changed</span>
                    </Show>
                  </td>
                  <td class="muted">
                    {t.min} – {t.max}
                  </td>
                  <td>{t.restartRequired ? <OkBadge ok={false} no="restart" /> : <span class="muted">live</span>}</td>
                  <td class="small">
                    {t.updatedAt === null ? <span class="muted">never</span> : formatTime(t.updatedAt)}
                    <Show when={t.updatedBy}>
                      <span class="muted"> by {t.updatedBy}</span>
                    </Show>
                  </td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </div>
    </Modal>
  )
}
