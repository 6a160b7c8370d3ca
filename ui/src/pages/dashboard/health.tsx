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
  ocr: "Report OCR API",
  slurm: "Slurm cluster"
}

const WHAT: Readonly<Record<HealthCheckName, string>> = {
  firestore: "reads one report; the same check decides between a per-document sync failure and an outage",
  gemini: "lists models with Omni-Health's key and picks one that can generate content",
  ocr: "asks the OCR service's health endpoint",
  slurm: "pings the Slurm controller and checks the partition has a node that takes jobs"
}

export const HealthPanel = () => {
  const data = useDashboard()
  /**
   * The Firestore line follows the kernel's outage state (the same source as
   * the banner and the header), whatever the cached check said before it.
   */
  const ok = (check: { readonly name: HealthCheckName; readonly ok: boolean }) =>
    check.name === "firestore" && data.outage ? false : check.ok
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
            <li
              class="health-item"
              classList={{ "health-ok": ok(check), "health-bad": !ok(check) }}
              data-testid={`health-${check.name}`}
              data-ok={String(ok(check))}
            >
              <div class="health-head">
                <span class="dot" />
                <strong>{TITLE[check.name]}</strong>
                <span class="muted small">{ok(check) ? "ok" : "failing"}</span>
                <ActionButton kind="small" onClick={() => data.refreshHealth(check.name)} title={`Re-run the ${TITLE[check.name]} check`}>
                  Re-run<span class="visually-hidden"> {TITLE[check.name]}</span>
                </ActionButton>
              </div>
              <Show when={check.name === "firestore" && data.outage}>
                <div class="small error">Outage: the allocator cannot reach Firestore and is holding new work.</div>
              </Show>
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
