/** The top bar: who is signed in, whether live updates flow, and the page-wide actions. */
import { Show } from "solid-js"
import { useDashboard } from "../../data/dashboard.tsx"
import { useEvents } from "../../data/events.tsx"
import { openHelp } from "../../data/route.ts"
import { useSession } from "../../data/session.tsx"

export type HeaderModal = "manual-add" | "batch-rerun" | "config"

const LIVE_LABEL = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…" } as const

export const Header = (props: { readonly open: (modal: HeaderModal) => void }) => {
  const session = useSession()
  const events = useEvents()
  const data = useDashboard()
  return (
    <header class="topbar">
      <div class="brand">
        <a href="#/">Lomi allocator</a>
        <span class={`live live-${events.status}`} data-testid="live-status" title="Live updates from the allocator">
          <span class="dot" />
          {LIVE_LABEL[events.status]}
        </span>
        <Show when={data.outage}>
          <span class="header-outage" data-testid="header-outage" title="The allocator cannot reach Firestore">
            Firestore outage
          </span>
        </Show>
      </div>
      <nav class="topbar-actions">
        <Show when={session.can("operator")}>
          <button type="button" class="button button-primary" onClick={() => props.open("manual-add")}>
            + Manual Add
          </button>
        </Show>
        <Show when={session.can("admin")}>
          <button type="button" class="button" onClick={() => props.open("batch-rerun")}>
            Batch rerun
          </button>
          <button type="button" class="button" onClick={() => props.open("config")}>
            Config
          </button>
        </Show>
        <a class="button" href="#/help" onClick={(e) => { e.preventDefault(); openHelp() }}>
          Help
        </a>
        <span class="who" data-testid="who">
          {session.user} <span class="role">{session.role}</span>
        </span>
        <button type="button" class="button button-small" onClick={() => void session.signOut()}>
          Sign out
        </button>
      </nav>
    </header>
  )
}
