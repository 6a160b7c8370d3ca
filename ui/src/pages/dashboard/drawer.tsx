/**
 * Everything about one document: every attempt, its manual holds, the
 * Firestore report as it is now, each attempt's log (followed live while the
 * attempt is active), its timeline (attempts, commands, holds, emails), and
 * the actions that act on the document. Opened by `#/doc/<id>`, so a link in
 * an email lands here, or by `#/run/<id>` with that attempt picked.
 *
 * A running attempt says who follows it: the execution host (with the
 * pipeline's pid) or Slurm (job id and state); one the executor does not
 * list is flagged. Asked when the drawer opens and after run events.
 *
 * Which log shows first: the picked attempt's, else the newest attempt that
 * has a log file, else the newest attempt's (a row that has not started yet
 * has no log, and an empty box would hide the last useful one).
 */
import { createEffect, createMemo, createSignal, For, on, onCleanup, Show } from "solid-js"
import type { CommandResult } from "../../../../schemas/commands.ts"
import { isActive, type JobRun } from "../../../../schemas/job.ts"
import type { Effect } from "effect"
import { type ApiClient, call } from "../../data/client.ts"
import { now } from "../../data/clock.ts"
import { useEvents } from "../../data/events.tsx"
import { formatTime, runDuration } from "../../data/format.ts"
import { createLiveRuns } from "../../data/live-runs.ts"
import { useNotices } from "../../data/notices.tsx"
import { closeDoc, hrefRun } from "../../data/route.ts"
import { useSession } from "../../data/session.tsx"
import { createSynced } from "../../data/synced.ts"
import { StateBadge } from "../../ui/badge.tsx"
import { ActionButton } from "../../ui/button.tsx"
import { Modal } from "../../ui/modal.tsx"
import { RunLogView } from "./run-log.tsx"
import { Timeline } from "./timeline.tsx"

const SLURM_STATE_RECHECK_MS = 10_000

export const DocDrawer = (props: { readonly doc: string; readonly run?: number | undefined }) => {
  const session = useSession()
  const notices = useNotices()
  const events = useEvents()
  const drawer = createSynced(() => call((api) => api.dashboard.docDrawer({ path: { doc: props.doc } })), undefined)
  const [result, setResult] = createSignal<{ readonly title: string; readonly result: CommandResult }>()
  const [picked, setPicked] = createSignal<number>()
  createEffect(on(() => props.run, (run) => run !== undefined && setPicked(run)))
  const timeline = createSynced(() => call((api) => api.dashboard.docTimeline({ path: { doc: props.doc } })), undefined, {
    key: null
  })

  const runs = () => drawer.value?.runs ?? []
  const newest = createMemo((): JobRun | undefined => runs()[runs().length - 1])
  const runIds = createMemo(() => new Set(runs().map((r) => r.id)))
  const live = createLiveRuns(() => runs().some((r) => r.state === "running"))
  const following = () => {
    const run = newest()
    return run === undefined ? undefined : live.of(run)
  }
  // A Slurm job leaving PENDING is no event of the allocator's: while the drawer shows one waiting, look again now and then.
  createEffect(() => {
    // Read on purpose: every answer carries a new checkedAt, so each one arms the next look.
    void live.report?.checkedAt
    const waiting = live.report?.runs.some((r) => runIds().has(r.runId) && r.externalState !== undefined && r.externalState !== "RUNNING")
    if (waiting !== true) return
    const timer = setTimeout(live.refresh, SLURM_STATE_RECHECK_MS)
    onCleanup(() => clearTimeout(timer))
  })
  const refresh = () => {
    drawer.schedule(80)
    timeline.schedule(200)
  }

  const offs = [
    events.on("insert", (e) => e.doc === props.doc && refresh()),
    events.on("transition", (e) => e.doc === props.doc && refresh()),
    events.on("firestore_write", (e) => e.doc === props.doc && refresh()),
    events.on("hold", (e) => e.doc === props.doc && refresh()),
    events.on("spawn", (e) => e.doc === props.doc && refresh()),
    events.on("exit", (e) => runIds().has(e.run) && refresh()),
    events.on("command", () => timeline.schedule(300)),
    events.on("email", (e) => e.doc === props.doc && timeline.schedule(200)),
    events.onResync(refresh)
  ]
  onCleanup(() => offs.forEach((off) => off()))

  const act = async <E,>(title: string, request: (api: ApiClient) => Effect.Effect<CommandResult, E>) => {
    const outcome = await notices.act(title, request)
    setResult({ title, result: outcome.ok ? outcome.value : { ok: false, message: outcome.message } })
  }

  const doc = () => props.doc
  const service = () => newest()?.service ?? stringField("service")
  const stringField = (key: string): string | undefined => {
    const value = drawer.value?.firestore.data?.[key]
    return typeof value === "string" ? value : undefined
  }
  const activeRun = () => {
    const run = newest()
    return run !== undefined && isActive(run.state) ? run : undefined
  }
  const selectedLog = () => {
    const logs = drawer.value?.logs ?? []
    const chosen = picked()
    const byPick = chosen === undefined ? undefined : logs.find((l) => l.run === chosen)
    if (byPick !== undefined) return byPick
    const withLog = [...logs].reverse().find((l) => l.exists)
    return withLog ?? logs[logs.length - 1]
  }
  /** Follow a log while its run is running or about to; a row waiting for hours gets no stream. */
  const isTailed = (id: number) => {
    const state = runs().find((r) => r.id === id)?.state
    return state === "running" || state === "queued"
  }

  return (
    <Modal
      side
      testId="drawer"
      onClose={closeDoc}
      title={
        <>
          <span class="mono">{props.doc}</span>
          <Show when={service()}>
            <span class="muted"> · {service()}</span>
          </Show>
        </>
      }
    >
      <Show when={drawer.error}>
        <p class="error" role="alert" data-testid="drawer-error">
          {drawer.error}
        </p>
      </Show>
      <Show when={drawer.value} fallback={<Show when={drawer.error === undefined}><p class="muted">Loading…</p></Show>}>
        {(d) => (
          <>
            <section class="drawer-summary">
              <div>
                <span class="label">Firestore status</span>
                <strong data-testid="firestore-status">
                  {d().firestore.status === "found" ? (stringField("status") ?? "(no status)") : d().firestore.status}
                </strong>
              </div>
              <div>
                <span class="label">Patient</span>
                <span class="mono">{newest()?.patient_id ?? stringField("patientId") ?? "—"}</span>{" "}
                {newest()?.patient_name ?? stringField("patientName") ?? ""}
              </div>
              <div>
                <span class="label">Newest attempt</span>
                <Show when={newest()} fallback={<span class="muted">none</span>}>
                  {(run) => (
                    <span data-testid="drawer-state">
                      <StateBadge state={run().state} /> #{run().id}, attempt {run().attempt}
                    </span>
                  )}
                </Show>
              </div>
              <Show when={following()}>
                {(f) => (
                  <div>
                    <span class="label">Executor</span>
                    <span
                      classList={{ "following-missing": f().kind === "missing", muted: f().kind === "unknown" }}
                      data-testid="drawer-following"
                      data-following={f().kind}
                    >
                      {f().kind === "missing"
                        ? `${f().text}: the allocator still counts this attempt as running, but nothing is following its pipeline, so its outcome may never be recorded.`
                        : f().text}
                    </span>
                  </div>
                )}
              </Show>
            </section>

            <section class="drawer-actions" aria-label="Actions">
              <ActionButton
                kind="danger"
                disabled={!session.can("operator") || activeRun() === undefined}
                reason={session.why("operator") ?? (activeRun() === undefined ? "Nothing to kill: no attempt of this document is active." : undefined)}
                title="Stop the active attempt: Firestore is set to Failed, then the row"
                confirm={`Kill run #${activeRun()?.id} of ${doc()}? After a short grace period Firestore is set to Failed and the pipeline is stopped.`}
                onClick={() => {
                  const run = activeRun()
                  return run === undefined
                    ? undefined
                    : act(run.state === "running" ? "Kill" : "Cancel", (api) => api.jobs.kill({ path: { run: run.id } }))
                }}
                testId="action-kill"
              >
                {activeRun()?.state === "running" || activeRun() === undefined ? "Kill" : "Cancel"}
              </ActionButton>
              <ActionButton
                disabled={!session.can("operator")}
                reason={session.why("operator")}
                title="Start a fresh attempt for a document that is Failed in Firestore"
                onClick={() => act("Retry", (api) => api.jobs.retry({ path: { doc: doc() } }))}
                testId="action-retry"
              >
                Retry
              </ActionButton>
              <ActionButton
                disabled={!session.can("admin") || newest()?.state !== "succeeded"}
                reason={session.why("admin") ?? "Only for a document whose newest attempt succeeded."}
                title="Step 1 of re-running a succeeded job: mark it failed (Firestore Failed), then Retry"
                confirm={`Mark ${doc()} failed so it can be retried? Firestore will show Failed until you click Retry; keep the gap short.`}
                onClick={() => act("Mark failed for retry", (api) => api.jobs.markFailedForRetry({ path: { doc: doc() } }))}
                testId="action-mark-failed"
              >
                Mark failed for retry
              </ActionButton>
              <ActionButton
                disabled={!session.can("operator")}
                reason={session.why("operator")}
                title="Set Firestore back to Data Ready; the listener then starts a fresh attempt 1"
                confirm={`Set ${doc()} back to Data Ready in Firestore? A fresh attempt will start.`}
                onClick={() => act("Reset to Data Ready", (api) => api.jobs.resetDataReady({ path: { doc: doc() } }))}
                testId="action-reset"
              >
                Reset to Data Ready
              </ActionButton>
              <Show when={service() === "Omni-Health"}>
                <ActionButton
                  disabled={!session.can("operator")}
                  reason={session.why("operator")}
                  title="Re-run Omni-Health with the OCR as edited in the report manager"
                  confirm={`Regenerate ${doc()}'s report with the edited OCR? Only do this after editing the OCR in the report manager. Firestore status is not touched.`}
                  onClick={() => act("Regenerate with edited OCR", (api) => api.jobs.regenerateOcr({ path: { doc: doc() } }))}
                  testId="action-regenerate"
                >
                  Regenerate with edited OCR
                </ActionButton>
              </Show>
            </section>
            <Show when={result()}>
              {(r) => (
                <p
                  class="action-result"
                  classList={{ "result-ok": r().result.ok, "result-refused": !r().result.ok }}
                  data-testid="drawer-result"
                >
                  <strong>{r().title}:</strong> {r().result.ok ? "" : "refused — "}
                  {r().result.message}
                </p>
              )}
            </Show>

            <h3>Attempts</h3>
            <div class="table-wrap">
              <table class="table attempts">
                <thead>
                  <tr>
                    <th>Run</th>
                    <th class="num">Att.</th>
                    <th>State</th>
                    <th>Scheduled</th>
                    <th>Started</th>
                    <th>Finished</th>
                    <th>Took</th>
                    <th class="num">Exit</th>
                    <th>Error / notes</th>
                  </tr>
                </thead>
                <tbody>
                  <For each={[...runs()].reverse()} fallback={<tr><td colspan="9" class="muted">No attempts yet.</td></tr>}>
                    {(run) => (
                      <tr
                        class="clickable"
                        classList={{ picked: selectedLog()?.run === run.id }}
                        data-run={run.id}
                        onClick={() => setPicked(run.id)}
                        title="Show this attempt's log"
                      >
                        <td class="mono">
                          <a href={hrefRun(run.id)} aria-label={`Attempt ${run.attempt}, run ${run.id}: show its log`}>
                            #{run.id}
                          </a>
                          <Show when={run.external_id}>
                            {(job) => <span class="note" title="Slurm job id">Slurm {job()}</span>}
                          </Show>
                        </td>
                        <td class="num">{run.attempt}</td>
                        <td>
                          <StateBadge state={run.state} />
                          <Show when={live.of(run)}>
                            {(f) => (
                              <span class="note" classList={{ "following-missing": f().kind === "missing" }} title={f().text}>
                                {f().kind === "unknown" ? "following not known" : f().text}
                              </span>
                            )}
                          </Show>
                        </td>
                        <td>{formatTime(run.scheduled_run_at)}</td>
                        <td>{formatTime(run.started_at)}</td>
                        <td>{formatTime(run.finished_at)}</td>
                        <td>{runDuration(run, now())}</td>
                        <td class="num">{run.exit_code ?? "—"}</td>
                        <td class="wrap">
                          {run.error_message ?? ""}
                          <Show when={run.notes}>
                            <span class="note">{run.notes}</span>
                          </Show>
                        </td>
                      </tr>
                    )}
                  </For>
                </tbody>
              </table>
            </div>

            <Show when={d().holds.length > 0}>
              <h3>Manual holds</h3>
              <ul class="plain">
                <For each={d().holds}>
                  {(h) => (
                    <li>
                      <span class="hold-id mono">H{h.id}</span> {h.state} · {h.service} · patient {h.patient_id} · created{" "}
                      {formatTime(h.created_at)}
                      {h.created_by === null ? "" : ` by ${h.created_by}`}
                    </li>
                  )}
                </For>
              </ul>
            </Show>

            <h3>Log</h3>
            <Show when={selectedLog()} fallback={<p class="muted">No attempts, so no logs.</p>}>
              {(log) => (
                <>
                  <div class="tabs">
                    <For each={d().logs}>
                      {(l) => (
                        <button
                          type="button"
                          class="tab"
                          classList={{ active: l.run === log().run }}
                          onClick={() => setPicked(l.run)}
                        >
                          #{l.run} · attempt {l.attempt}
                        </button>
                      )}
                    </For>
                  </div>
                  <RunLogView log={log()} active={isTailed(log().run)} />
                </>
              )}
            </Show>

            <h3>Timeline</h3>
            <Timeline timeline={timeline.value} error={timeline.error} />

            <h3>Firestore document</h3>
            <Show
              when={d().firestore.status === "found"}
              fallback={
                <p class="muted">
                  {d().firestore.status === "missing"
                    ? "There is no such report in Firestore."
                    : `Firestore could not be read: ${d().firestore.error ?? "unknown error"}`}
                </p>
              }
            >
              <pre class="json" data-testid="firestore-doc">
                {JSON.stringify(d().firestore.data, null, 2)}
              </pre>
            </Show>
          </>
        )}
      </Show>
    </Modal>
  )
}
