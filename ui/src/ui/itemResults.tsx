/** The outcome of a command run over several documents: the summary, then one line per document. */
import { For } from "solid-js"
import { OkBadge } from "./badge.tsx"

export interface ItemResult {
  readonly doc: string
  readonly ok: boolean
  readonly message: string
}

export const ItemResults = (props: {
  readonly label: string
  readonly result: { readonly ok: boolean; readonly message: string; readonly results: ReadonlyArray<ItemResult> }
  readonly yes: string
  readonly testId?: string
}) => (
  <div class="bulk-summary" classList={{ "bulk-failed": !props.result.ok }} data-testid={props.testId}>
    <strong>{props.label}:</strong> {props.result.message}
    <ul>
      <For each={props.result.results}>
        {(item) => (
          <li>
            <span class="mono">{item.doc}</span> <OkBadge ok={item.ok} yes={props.yes} /> {item.message}
          </li>
        )}
      </For>
    </ul>
  </div>
)
