/**
 * A button that runs an async action: disabled while it runs, with an
 * optional confirmation first (destructive actions ask).
 */
import { createSignal, type JSX } from "solid-js"

export interface ActionButtonProps {
  readonly onClick: () => Promise<unknown> | void
  readonly children: JSX.Element
  readonly confirm?: string
  readonly kind?: "primary" | "danger" | "plain" | "small" | "small-danger"
  readonly disabled?: boolean
  readonly title?: string
  readonly testId?: string
}

export const ActionButton = (props: ActionButtonProps) => {
  const [busy, setBusy] = createSignal(false)
  const run = async (e: MouseEvent) => {
    e.stopPropagation()
    if (busy()) return
    if (props.confirm !== undefined && !window.confirm(props.confirm)) return
    setBusy(true)
    try {
      await props.onClick()
    } finally {
      setBusy(false)
    }
  }
  return (
    <button
      type="button"
      class={`button button-${props.kind ?? "plain"}`}
      classList={{ busy: busy() }}
      disabled={props.disabled === true || busy()}
      title={props.title}
      data-testid={props.testId}
      onClick={run}
    >
      {props.children}
    </button>
  )
}
