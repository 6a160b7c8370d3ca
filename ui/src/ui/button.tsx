/**
 * A button that runs an async action: disabled while it runs, with an
 * optional confirmation first (destructive actions ask).
 *
 * A button that is unavailable for a reason (the role may not use it, the
 * state does not allow it) says why: it stays focusable with aria-disabled,
 * shows the reason as its tooltip, and names it as its accessible
 * description, so a viewer hovering or tabbing to it learns what it would
 * need. A click on it does nothing.
 */
import { createSignal, createUniqueId, type JSX, Show } from "solid-js"

export interface ActionButtonProps {
  readonly onClick: () => Promise<unknown> | void
  readonly children: JSX.Element
  readonly confirm?: string
  readonly kind?: "primary" | "danger" | "plain" | "small" | "small-danger"
  readonly disabled?: boolean
  /** Why it is disabled; shown only while it is. */
  readonly reason?: string | undefined
  readonly title?: string
  readonly testId?: string
}

export const ActionButton = (props: ActionButtonProps) => {
  const [busy, setBusy] = createSignal(false)
  const reasonId = createUniqueId()
  const unavailable = () => props.disabled === true && props.reason !== undefined
  const run = async (e: MouseEvent) => {
    e.stopPropagation()
    if (busy() || unavailable()) return
    if (props.confirm !== undefined && !window.confirm(props.confirm)) return
    setBusy(true)
    try {
      await props.onClick()
    } finally {
      setBusy(false)
    }
  }
  return (
    <>
      <button
        type="button"
        class={`button button-${props.kind ?? "plain"}`}
        classList={{ busy: busy(), unavailable: unavailable() }}
        disabled={(props.disabled === true && !unavailable()) || busy()}
        aria-disabled={unavailable() ? "true" : undefined}
        aria-describedby={unavailable() ? reasonId : undefined}
        title={unavailable() ? props.reason : props.title}
        data-testid={props.testId}
        onClick={run}
      >
        {props.children}
      </button>
      <Show when={unavailable()}>
        <span id={reasonId} class="visually-hidden" data-testid={props.testId === undefined ? undefined : `${props.testId}-reason`}>
          {props.reason}
        </span>
      </Show>
    </>
  )
}

