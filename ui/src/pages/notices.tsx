/** The corner list of action results. */
import { For } from "solid-js"
import { useNotices } from "../data/notices.tsx"

export const Notices = () => {
  const notices = useNotices()
  return (
    <div class="notices" aria-live="polite">
      <For each={notices.items}>
        {(notice) => (
          <div class="notice" classList={{ "notice-ok": notice.ok, "notice-refused": !notice.ok }} data-testid="notice">
            <div class="notice-title">
              <strong>{notice.title}</strong>
              <span>{notice.ok ? "done" : "refused"}</span>
              <button type="button" class="icon-button" aria-label="Dismiss" onClick={() => notices.dismiss(notice.id)}>
                ×
              </button>
            </div>
            <p class="notice-message">{notice.message}</p>
          </div>
        )}
      </For>
    </div>
  )
}
