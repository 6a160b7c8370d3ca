/** A titled section of the dashboard. */
import { type JSX, Show } from "solid-js"

export const Panel = (props: {
  readonly title: JSX.Element
  readonly actions?: JSX.Element
  readonly children: JSX.Element
  readonly id?: string
  readonly class?: string
}) => (
  <section class={`panel ${props.class ?? ""}`} id={props.id}>
    <header class="panel-head">
      <h2>{props.title}</h2>
      <Show when={props.actions}>
        <div class="panel-actions">{props.actions}</div>
      </Show>
    </header>
    <div class="panel-body">{props.children}</div>
  </section>
)

/** A status line under a list: loading, error, empty. */
export const ListStatus = (props: {
  readonly loading: boolean
  readonly loaded: boolean
  readonly error: string | undefined
  readonly empty: boolean
  readonly emptyText: string
}) => (
  <>
    <Show when={props.error}>
      <p class="list-status error">Could not load: {props.error}</p>
    </Show>
    <Show when={!props.loaded && props.loading && props.error === undefined}>
      <p class="list-status">Loading…</p>
    </Show>
    <Show when={props.loaded && props.empty && props.error === undefined}>
      <p class="list-status">{props.emptyText}</p>
    </Show>
  </>
)
