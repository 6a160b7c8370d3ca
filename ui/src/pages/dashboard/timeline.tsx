/** A document's history in one list: attempts, commands, holds and emails, oldest first. */
import { For, Show } from "solid-js"
import type { DocTimeline } from "../../../../schemas/api.ts"
import { formatTime } from "../../data/format.ts"
import { hrefRun } from "../../data/route.ts"

const KIND_LABEL = { attempt: "attempt", command: "command", hold: "hold", email: "email" } as const

export const Timeline = (props: { readonly timeline: DocTimeline | undefined; readonly error: string | undefined }) => (
  <>
    <Show when={props.error}>
      <p class="error">Could not load the timeline: {props.error}</p>
    </Show>
    <Show when={props.timeline} fallback={<p class="muted">Loading…</p>}>
      {(t) => (
        <ol class="timeline" data-testid="timeline">
          <For each={t().entries} fallback={<li class="muted">Nothing has happened to this document yet.</li>}>
            {(entry) => (
              <li
                class={`timeline-entry timeline-${entry.kind}`}
                classList={{ "timeline-bad": entry.ok === false, "timeline-good": entry.ok === true }}
                data-kind={entry.kind}
              >
                <time class="small muted" dateTime={entry.at}>
                  {formatTime(entry.at)}
                </time>
                <span class="timeline-kind">{KIND_LABEL[entry.kind]}</span>
                <span class="timeline-title">
                  <Show when={entry.run} fallback={entry.title}>
                    {(run) => <a href={hrefRun(run())}>{entry.title}</a>}
                  </Show>
                </span>
                <Show when={entry.detail}>
                  <span class="small timeline-detail">{entry.detail}</span>
                </Show>
              </li>
            )}
          </For>
        </ol>
      )}
    </Show>
  </>
)
