/** Every command issued from the dashboard, who issued it and what came of it. */
import { For, Show } from "solid-js"
import { useDashboard } from "../../data/dashboard.tsx"
import { formatTime } from "../../data/format.ts"
import { ListStatus, Panel } from "../../ui/panel.tsx"

const argsText = (args: unknown): string => {
  if (args === null || args === undefined) return ""
  if (typeof args !== "object") return String(args)
  return Object.entries(args)
    .filter(([k]) => k !== "_tag")
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ")
}

export const CommandLogPanel = () => {
  const data = useDashboard()
  const log = data.commands
  return (
    <Panel title="Command log" id="command-log">
      <div class="table-wrap scroll-y" tabIndex={0} role="region" aria-label="Command log entries">
        <table class="table small" data-testid="command-log">
          <thead>
            <tr>
              <th>When</th>
              <th>User</th>
              <th>Command</th>
              <th>Status</th>
              <th>Result</th>
            </tr>
          </thead>
          <tbody>
            <For each={log.items}>
              {(entry) => (
                <tr>
                  <td class="nowrap">{formatTime(entry.at)}</td>
                  <td>{entry.user}</td>
                  <td>
                    <span class="mono">{entry.name}</span> <span class="muted">{argsText(entry.args)}</span>
                  </td>
                  <td>
                    <span class={`badge cmd-${entry.status}`}>{entry.status}</span>
                  </td>
                  <td class="wrap">{entry.result ?? ""}</td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </div>
      <ListStatus loading={log.loading} loaded={log.loaded} error={log.error} empty={log.items.length === 0} emptyText="No commands yet." />
      <Show when={log.hasMore}>
        <button type="button" class="button load-more" onClick={() => void log.loadMore()}>
          Load more
        </button>
      </Show>
    </Panel>
  )
}
