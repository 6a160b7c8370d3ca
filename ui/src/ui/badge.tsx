/** A job state as a coloured pill. */
import type { JobState } from "../../../schemas/job.ts"
import { STATE_LABEL } from "../data/format.ts"

export const StateBadge = (props: { readonly state: JobState }) => (
  <span class={`badge state-${props.state}`} data-state={props.state}>
    {STATE_LABEL[props.state]}
  </span>
)

export const OkBadge = (props: { readonly ok: boolean; readonly yes?: string; readonly no?: string }) => (
  <span class="badge" classList={{ "badge-ok": props.ok, "badge-bad": !props.ok }}>
    {props.ok ? (props.yes ?? "ok") : (props.no ?? "refused")}
  </span>
)
