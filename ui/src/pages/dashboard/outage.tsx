/** Shown while the allocator believes Firestore is unreachable. */
import { Show } from "solid-js"
import { useDashboard } from "../../data/dashboard.tsx"

export const OutageBanner = () => {
  const data = useDashboard()
  return (
    <Show when={data.outage}>
      <div class="banner banner-outage" role="alert" data-testid="outage-banner">
        <strong>Firestore outage.</strong> The allocator cannot reach Firestore and is holding new work until it can.
        Running jobs are left alone and recovered on the next good start. Check the Health panel; re-run the
        Firestore check once the network is back.
      </div>
    </Show>
  )
}
