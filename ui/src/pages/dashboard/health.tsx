/** The three dependency checks, cached by the server; each can be re-run now. */
import { For, Show } from "solid-js"
import type { HealthCheckName } from "../../../../schemas/health.ts"
import { now } from "../../data/clock.ts"
import { useDashboard } from "../../data/dashboard.tsx"
import { formatRelative, formatTime } from "../../data/format.ts"
import { ActionButton } from "../../ui/button.tsx"
import { ListStatus, Panel } from "../../ui/panel.tsx"

const TITLE: Readonly<Record<HealthCheckName, string>> = {
  firestore: "Firestore",
  gemini: "Gemini API",
  ocr: "Report OCR API"
}

const WHAT: Readonly<Record<HealthCheckName, string>> = {
  firestore: "reads one report; the same check decides between a per-document sync failure and an outage",
  gemini: "lists models with Omni-Health's key and picks one that can generate content",
  ocr: "asks the OCR service's health endpoint"
}

export const HealthPanel = () => {
  const data = useDashboard()
  return (
    <Panel
      title="Health"
      id="health"
      actions={
        <ActionButton kind="small" onClick={() => data.refreshHealth()}>
          Re-run all
        </ActionButton>
      }
    >
      <ul class="health">
        <For each={data.health.value.checks}>
          {(check) => (
            <li class="health-item" classList={{ "health-ok": check.ok, "health-bad": !check.ok }} data-testid={`health-${check.name}`}>
              <div class="health-head">
                <span class="dot" />
                <strong>{TITLE[check.name]}</strong>
                <span class="muted small">{check.ok ? "ok" : "failing"}</span>
                <ActionButton kind="small" onClick={() => data.refreshHealth(check.name)}>
                  Re-run
                </ActionButton>
              </div>
              <div class="small">{check.detail}</div>
              <Show when={check.model}>
                <div class="small">
                  model <span class="mono">{check.model}</span>
                </div>
              </Show>
              <div class="muted small" title={formatTime(check.checkedAt)}>
                checked {formatRelative(check.checkedAt, now())} · {check.latencyMs} ms · {WHAT[check.name]}
              </div>
            </li>
          )}
        </For>
      </ul>
      <ListStatus
        loading={data.health.loading}
        loaded={data.health.loaded}
        error={data.health.error}
        empty={data.health.value.checks.length === 0}
        emptyText="No checks have run yet."
      />
    </Panel>
  )
}
