/**
 * Job rows (one per attempt) as a table; a click opens the document's drawer.
 * A running row says whether the executor follows it (the host's pid, or the
 * Slurm job's state), and stands out when it does not.
 */
import { For, Show } from "solid-js"
import type { JobRun } from "../../../../schemas/job.ts"
import { now } from "../../data/clock.ts"
import { formatTime, runDuration } from "../../data/format.ts"
import { createLiveRuns } from "../../data/live-runs.ts"
import { hrefDoc, openDoc } from "../../data/route.ts"
import { StateBadge } from "../../ui/badge.tsx"

export const JobTable = (props: { readonly rows: ReadonlyArray<JobRun>; readonly onOpen?: (doc: string) => void }) => {
  const open = (doc: string) => {
    props.onOpen?.(doc)
    openDoc(doc)
  }
  const live = createLiveRuns(() => props.rows.some((r) => r.state === "running"))
  return (
    <div class="table-wrap">
      <table class="table jobs-table" data-testid="jobs-table">
        <thead>
          <tr>
            <th>Run</th>
            <th>Document</th>
            <th>Service</th>
            <th>State</th>
            <th class="num">Attempt</th>
            <th>Patient</th>
            <th>Collected</th>
            <th>Received</th>
            <th>Duration</th>
          </tr>
        </thead>
        <tbody>
          <For each={props.rows}>
            {(row) => (
              <tr class="clickable" data-run={row.id} data-doc={row.doc_id} onClick={() => open(row.doc_id)}>
                <td class="mono">
                  #{row.id}
                  <Show when={row.external_id}>
                    {(job) => <span class="note" title="Slurm job id">Slurm {job()}</span>}
                  </Show>
                </td>
                <td class="mono">
                  <a href={hrefDoc(row.doc_id)} onClick={(e) => e.preventDefault()}>
                    {row.doc_id}
                  </a>
                </td>
                <td>{row.service}</td>
                <td>
                  <StateBadge state={row.state} />
                  <Show when={live.of(row)}>
                    {(f) => (
                      <span
                        class="note following"
                        classList={{ "following-missing": f().kind === "missing" }}
                        data-testid="following"
                        data-following={f().kind}
                        title={f().text}
                      >
                        {f().kind === "unknown" ? "following not known" : f().text}
                      </span>
                    )}
                  </Show>
                  <Show when={row.notes}>
                    <span class="note">{row.notes}</span>
                  </Show>
                </td>
                <td class="num">{row.attempt}</td>
                <td>
                  <span class="mono">{row.patient_id ?? "—"}</span>
                  <Show when={row.patient_name}>
                    <span class="muted"> {row.patient_name}</span>
                  </Show>
                </td>
                <td>{row.collection_date ?? "—"}</td>
                <td>{formatTime(row.created_at)}</td>
                <td>{runDuration(row, now())}</td>
              </tr>
            )}
          </For>
        </tbody>
      </table>
    </div>
  )
}
