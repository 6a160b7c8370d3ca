/** Shell commands for what the dashboard cannot do, rendered from this server's configuration. */
import { For } from "solid-js"
import { useDashboard } from "../../data/dashboard.tsx"
import { CopyButton } from "../../ui/copy-button.tsx"
import { ListStatus, Panel } from "../../ui/panel.tsx"

export const SysadminPanel = () => {
  const data = useDashboard()
  const snippets = () => data.sysadmin.value.snippets
  return (
    <Panel title="Sysadmin" id="sysadmin">
      <p class="muted small">These need a shell on the server (most with sudo); copy and run them there.</p>
      <div class="snippets">
        <For each={snippets()}>
          {(s) => (
            <div class="snippet-card">
              <div class="snippet-title">
                <strong>{s.title}</strong>
                <CopyButton text={s.command} />
              </div>
              <p class="muted small">{s.description}</p>
              <pre class="snippet-code">{s.command}</pre>
            </div>
          )}
        </For>
      </div>
      <ListStatus
        loading={data.sysadmin.loading}
        loaded={data.sysadmin.loaded}
        error={data.sysadmin.error}
        empty={snippets().length === 0}
        emptyText="No snippets."
      />
    </Panel>
  )
}
