/**
 * A dialog over the page: Esc or the backdrop closes it. `side` makes it a
 * drawer on the right. Focus moves into the dialog when it opens (so Tab and
 * Esc act on it, not on whatever had focus behind it) and goes back to where
 * it was when it closes.
 */
import { type JSX, onCleanup, onMount, Show } from "solid-js"
import { Portal } from "solid-js/web"

export interface ModalProps {
  readonly title: JSX.Element
  readonly onClose: () => void
  readonly children: JSX.Element
  readonly footer?: JSX.Element
  readonly side?: boolean
  readonly wide?: boolean
  readonly testId?: string
}

export const Modal = (props: ModalProps) => {
  let dialog: HTMLDivElement | undefined
  const before = document.activeElement instanceof HTMLElement ? document.activeElement : undefined
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape" && !e.defaultPrevented) props.onClose()
  }
  onMount(() => {
    document.addEventListener("keydown", onKey)
    if (dialog !== undefined && !dialog.contains(document.activeElement)) dialog.focus({ preventScroll: true })
  })
  onCleanup(() => {
    document.removeEventListener("keydown", onKey)
    if (before !== undefined && before.isConnected) before.focus({ preventScroll: true })
  })
  return (
    <Portal>
      <div class="backdrop" classList={{ "backdrop-side": props.side === true }} onClick={() => props.onClose()}>
        <div
          class="modal"
          classList={{ "modal-side": props.side === true, "modal-wide": props.wide === true }}
          role="dialog"
          aria-modal="true"
          tabIndex={-1}
          ref={dialog}
          data-testid={props.testId}
          onClick={(e) => e.stopPropagation()}
        >
          <header class="modal-head">
            <h2>{props.title}</h2>
            <button type="button" class="icon-button" aria-label="Close" onClick={() => props.onClose()}>
              ×
            </button>
          </header>
          <div class="modal-body">{props.children}</div>
          <Show when={props.footer}>
            <footer class="modal-foot">{props.footer}</footer>
          </Show>
        </div>
      </div>
    </Portal>
  )
}
