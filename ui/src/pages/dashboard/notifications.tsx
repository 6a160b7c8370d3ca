/** Every email the allocator tried to send, and whether it went. */
import { For, Show } from "solid-js"
import { useDashboard } from "../../data/dashboard.tsx"
import { formatTime } from "../../data/format.ts"
import { openDoc } from "../../data/route.ts"
import { ListStatus, Panel } from "../../ui/panel.tsx"

export const NotificationsPanel = () => {
  const data = useDashboard()
  const list = data.notifications
  return (
    <Panel title="Notifications" id="notifications">
      <div class="table-wrap scroll-y" tabIndex={0} role="region" aria-label="Email attempts">
        <table class="table small" data-testid="notifications">
          <thead>
            <tr>
              <th>When</th>
              <th>Email</th>
              <th>Document</th>
              <th>To</th>
              <th>Status</th>
            </tr>
          </thead>
          <tbody>
            <For each={list.items}>
              {(n) => (
                <tr>
                  <td class="nowrap">{formatTime(n.at)}</td>
                  <td>{n.template.replace(/_/g, " ")}</td>
                  <td class="mono">
                    <Show when={n.doc} fallback="—">
                      {(doc) => (
                        <a class="link" onClick={() => openDoc(doc())}>
                          {doc()}
                        </a>
                      )}
                    </Show>
                  </td>
                  <td class="wrap">{n.recipients === "" ? <span class="muted">nobody</span> : n.recipients}</td>
                  <td>
                    <span class={`badge mail-${n.status}`}>{n.status}</span>
                    <Show when={n.error}>
                      <div class="muted small">{n.error}</div>
                    </Show>
                  </td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </div>
      <ListStatus loading={list.loading} loaded={list.loaded} error={list.error} empty={list.items.length === 0} emptyText="No emails yet." />
      <Show when={list.hasMore}>
        <button type="button" class="button load-more" onClick={() => void list.loadMore()}>
          Load more
        </button>
      </Show>
    </Panel>
  )
}
