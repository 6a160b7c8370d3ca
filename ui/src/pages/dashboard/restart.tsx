/**
 * Restart-required values that are stored but not yet running, and the
 * administrator's "Restart now". The allocator stops in order and exits with
 * code 75; systemd (Restart=always) or the `make run` launcher starts it
 * again. The page notices the new process by its start time. The dashboard
 * server may stay up while the kernel restarts, so the event stream need not
 * drop: while a restart is awaited, and only then, the status is asked for
 * once a second (for at most RESTART_WAIT_MS). Nothing is reloaded.
 */
import { createEffect, createSignal, For, Match, onCleanup, Show, Switch } from "solid-js"
import { useDashboard } from "../../data/dashboard.tsx"
import { useEvents } from "../../data/events.tsx"
import { formatTime } from "../../data/format.ts"
import { useNotices } from "../../data/notices.tsx"
import { useSession } from "../../data/session.tsx"
import { ActionButton } from "../../ui/button.tsx"
import { CopyButton } from "../../ui/copy-button.tsx"

const RESTART_WAIT_MS = 180_000

export const RestartPanel = (props: { readonly always?: boolean }) => {
  const data = useDashboard()
  const session = useSession()
  const notices = useNotices()
  const events = useEvents()
  const [askedAt, setAskedAt] = createSignal<string>()

  const status = () => data.restart.value
  const pending = () => status()?.pending ?? []
  const restarted = () => {
    const before = askedAt()
    const now = status()?.startedAt
    return before !== undefined && now !== undefined && now !== before
  }
  const restarting = () => askedAt() !== undefined && !restarted()
  createEffect(() => {
    if (!restarting()) return
    const since = Date.now()
    const timer = setInterval(() => {
      if (Date.now() - since > RESTART_WAIT_MS) clearInterval(timer)
      else void data.restart.refetch()
    }, 1000)
    onCleanup(() => clearInterval(timer))
  })
  const command = () => data.sysadmin.value.snippets.find((s) => s.id === "restart")?.command

  const restartNow = async () => {
    const before = status()?.startedAt
    const outcome = await notices.act("Restart now", (api) => api.ops.restart({ payload: { confirm: "restart" } }))
    if (outcome.ok && outcome.value.ok && before !== undefined) setAskedAt(before)
  }

  return (
    <Show when={props.always === true || pending().length > 0 || askedAt() !== undefined}>
      <div class="restart-prompt" role="status" data-testid="restart-panel">
        <Switch>
          <Match when={restarting()}>
            <strong>Restarting…</strong> The allocator is stopping in order and will be started again. This page
            reconnects by itself ({events.status}).
          </Match>
          <Match when={restarted()}>
            <strong data-testid="restart-done">Restarted.</strong> The allocator has been running since{" "}
            {formatTime(status()?.startedAt)}.
          </Match>
        </Switch>
        <Show when={pending().length > 0}>
          <p class="restart-pending-head">
            <strong>Waiting for a restart:</strong> these values are stored, but the running allocator still uses the
            old ones.
          </p>
          <ul class="pending-list" data-testid="restart-pending">
            <For each={pending()}>
              {(p) => (
                <li data-key={p.key}>
                  <span class="mono">{p.key}</span>: running {p.running}, stored {p.stored}
                </li>
              )}
            </For>
          </ul>
        </Show>
        <Show when={!restarting()}>
          <div class="snippet">
            <ActionButton
              kind="danger"
              testId="restart-now"
              disabled={!session.can("admin")}
              reason={session.why("admin")}
              confirm="Restart the allocator now? Running pipelines are handed over as on any orderly stop; the dashboard reconnects by itself."
              onClick={restartNow}
            >
              Restart now
            </ActionButton>
            <Show when={command()}>
              {(cmd) => (
                <>
                  <span class="muted small">or from a shell on the server:</span>
                  <code>{cmd()}</code>
                  <CopyButton text={cmd()} />
                </>
              )}
            </Show>
          </div>
        </Show>
      </div>
    </Show>
  )
}
