/** A dialog over the page: Esc or the backdrop closes it. `side` makes it a drawer on the right. */
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
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape" && !e.defaultPrevented) props.onClose()
  }
  onMount(() => document.addEventListener("keydown", onKey))
  onCleanup(() => document.removeEventListener("keydown", onKey))
  return (
    <Portal>
      <div class="backdrop" classList={{ "backdrop-side": props.side === true }} onClick={() => props.onClose()}>
        <div
          class="modal"
          classList={{ "modal-side": props.side === true, "modal-wide": props.wide === true }}
          role="dialog"
          aria-modal="true"
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
