/**
 * The operator's manual, in topics. Lists that the schemas already hold
 * (states, tunables) are rendered from them, so the help cannot drift from
 * what the allocator does.
 */
import { For, type JSX, Show } from "solid-js"
import { ACTIVE_STATES, type JobState, TERMINAL_STATES } from "../../../schemas/job.ts"
import { TUNABLE_KEYS, TUNABLES } from "../../../schemas/tunables.ts"
import { STATE_LABEL } from "../data/format.ts"
import { openHelp, route } from "../data/route.ts"
import { StateBadge } from "../ui/badge.tsx"

const STATE_MEANING: Readonly<Record<JobState, string>> = {
  received: "Just recorded, not yet sorted into a queue. Rarely seen for more than a moment.",
  waiting_cooldown:
    "Has a start time in the future: a new Gen-Decoder order's hold, the pause before a retry, the automatic retry after a failed Firestore write (sync retry), or an OCR re-run.",
  queued: "Due now and waiting for a free worker.",
  running: "A worker is running the pipeline; its log can be followed in the drawer.",
  succeeded: "The pipeline finished with exit code 0. Downstream marks the report Available.",
  failed_retrying: "This attempt failed; a new attempt has been scheduled after the retry delay.",
  temp_failed:
    "The pipeline said its input is not there yet (the agreed exit code). The same attempt is tried again later; no retry is used up.",
  failed_sync:
    "The pipeline gave up but writing Failed to Firestore did not work for this document. An automatic retry of the whole document is scheduled.",
  failed_permanent:
    "Given up: retries are used up, or an operator killed it, or the report left Data Ready. Firestore says Failed. Needs a person."
}

interface Topic {
  readonly id: string
  readonly title: string
  readonly body: () => JSX.Element
}

const StateList = (props: { readonly states: ReadonlyArray<JobState> }) => (
  <dl class="states">
    <For each={props.states}>
      {(s) => (
        <>
          <dt>
            <StateBadge state={s} />
          </dt>
          <dd>{STATE_MEANING[s]}</dd>
        </>
      )}
    </For>
  </dl>
)

const TOPICS: readonly [Topic, ...Array<Topic>] = [
  {
    id: "overview",
    title: "What the allocator does",
    body: () => (
      <>
        <p>
          The allocator watches the <code>reports</code> collection in Firestore. When a report's status becomes{" "}
          <em>Data Ready</em>, it records a job for it and, when the job is due, runs the matching pipeline (Gen-Decoder,
          Epi-Insight or Omni-Health) as a bash script on this server, in a sandbox. Each run's exit code decides what
          happens next: done, try again later, or give up and tell Firestore <em>Failed</em>.
        </p>
        <p>
          Every attempt is its own row in the allocator's SQLite database, so the history of a document is the list of
          its attempts. Firestore says what the outside world should believe (Data Ready: please process; Failed: we
          gave up; Available: results are ready, written downstream). SQLite says what the allocator is doing.
        </p>
        <p>
          When the allocator gives up on a document it writes Failed to Firestore <strong>before</strong> it marks the
          row in SQLite. The moment Firestore stops saying Data Ready, the listener stops reporting the document, so a
          replayed event cannot start a duplicate attempt in between. The one exception is a report that an
          administrator moved out of Data Ready by hand: the allocator then only records that it was withdrawn.
        </p>
        <p>
          This dashboard reads the allocator's state and sends it commands. Everything on it updates live; there is no
          need to reload. The dot next to the title says whether live updates are flowing.
        </p>
      </>
    )
  },
  {
    id: "states",
    title: "Job states",
    body: () => (
      <>
        <p>Every attempt is in exactly one state. Active states:</p>
        <StateList states={ACTIVE_STATES} />
        <p>Final states (a row in one of these never changes again, except that Mark failed for retry can turn a succeeded row into a failed one):</p>
        <StateList states={TERMINAL_STATES} />
        <p>
          <strong>No duplicates.</strong> Firestore's listener sometimes reports the same document again. A new
          attempt is only created when the document's newest row allows it: a document that is active, succeeded, or
          between attempts is left alone. A document whose newest row is {STATE_LABEL.failed_permanent.toLowerCase()}{" "}
          is allowed through; that is how Reset to Data Ready and Retry start it again.
        </p>
      </>
    )
  },
  {
    id: "dashboard",
    title: "Reading the dashboard",
    body: () => (
      <>
        <p>
          <strong>State cards</strong> count rows per state. Click one to list those rows; click a row to open its
          document. <em>Waiting</em> adds the timed holds and the manual holds, and its second line breaks that total
          down. <em>Retried</em> counts attempts that failed but were followed by another attempt; they usually sort
          themselves out. <em>Failed</em> is the one to watch: those need someone.
        </p>
        <p>
          <strong>Jobs</strong> lists every attempt, newest first. The search box matches the document id or the
          patient id, anywhere in the text and ignoring case; it searches 300 ms after you stop typing, Enter searches
          at once and Esc clears it. Filters narrow by state, service and the day the job was received. "Load more"
          fetches the next page.
        </p>
        <p>
          <strong>Charts</strong> cover the last week or month: finished attempts per day by outcome, average run time
          per service, failures by service, and how many jobs were waiting, queued and running over time. Click a
          legend entry to hide or show it.
        </p>
        <p>
          <strong>Command log</strong> records every action taken from the dashboard with who took it and the
          allocator's answer. <strong>Notifications</strong> records every email attempt: sent, failed, or skipped
          (emails switched off, or nobody to send to).
        </p>
        <p>
          <strong>Health</strong> runs three checks on request and keeps the answers for a while: Firestore (read one
          report), Gemini (find a model that can generate content with Omni-Health's key) and the report OCR service.
          A red banner across the top means the allocator has concluded Firestore itself is unreachable (an outage,
          not one bad document); it then waits and retries on its own.
        </p>
      </>
    )
  },
  {
    id: "queue",
    title: "Process Queue",
    body: () => (
      <>
        <p>Work that is waiting for something, in one table:</p>
        <ul>
          <li>
            <span class="hold-id">H12</span> rows (purple) are <strong>manual holds</strong> from Manual Add. They have
            no timer: they wait until someone clicks <em>Release</em>.
          </li>
          <li>
            <span class="mono">#34</span> rows are <strong>timed holds</strong>, in the order they fall due: a new
            Gen-Decoder order's hold, the pause before a retry, a sync retry (light orange) or an OCR re-run (light
            blue).
          </li>
        </ul>
        <p>On a timed row:</p>
        <ul>
          <li>
            <em>Skip</em> makes it due now: it moves to the queue and runs when a worker is free.
          </li>
          <li>
            <em>Cancel</em> stops the document for good: Firestore is set to Failed, then the row.
          </li>
        </ul>
        <p>On a manual hold:</p>
        <ul>
          <li>
            <em>Release</em> sets the report to Data Ready in Firestore, marked as released by hand, so that Gen-Decoder
            skips its usual hold and no upload reminder is sent. If the report is somehow already Data Ready, the
            release is refused and the hold kept, so you can look into it.
          </li>
          <li>
            <em>Cancel hold</em> stops tracking the order. Firestore is not touched.
          </li>
        </ul>
        <p>
          Tick the boxes of several holds (or the box in the header for all of them) to Release or Cancel them
          together. Each is tried on its own: the ones that fail stay in the queue, stay ticked, and are listed with
          the reason.
        </p>
      </>
    )
  },
  {
    id: "drawer",
    title: "A document's drawer",
    body: () => (
      <>
        <p>
          Clicking a document anywhere opens its drawer (its address, <code>#/doc/&lt;id&gt;</code>, can be shared; the
          allocator's emails link to it). It shows the report as Firestore has it now, every attempt with its times,
          exit code and error, and each attempt's log. While an attempt is active its log is followed live.
        </p>
        <p>Actions, each answered by the allocator with what it did or why it refused:</p>
        <ul>
          <li>
            <em>Kill</em> (or <em>Cancel</em> before it runs) gives up on the active attempt. It waits a moment first
            (KILL_GRACE_MS) so a run that is just finishing can finish; then Firestore is set to Failed, the row is
            marked failed and the pipeline is stopped.
          </li>
          <li>
            <em>Retry</em> starts a fresh attempt for a document that is Failed in Firestore.
          </li>
          <li>
            <em>Reset to Data Ready</em> sets the report back to Data Ready, which starts a fresh attempt 1 through the
            normal path (including Gen-Decoder's hold).
          </li>
          <li>
            <em>Mark failed for retry</em> (administrators) is the first half of re-running a job that succeeded: see
            below.
          </li>
          <li>
            <em>Regenerate with edited OCR</em> (Omni-Health, after a successful run) runs the report again from the
            OCR text as corrected in the report manager. Firestore's status is left as it is.
          </li>
        </ul>
      </>
    )
  },
  {
    id: "rerun",
    title: "Re-running a job that succeeded",
    body: () => (
      <>
        <p>
          When a pipeline has been fixed and finished reports need to be made again: first <em>Mark failed for
          retry</em> (the succeeded attempt becomes failed and Firestore says Failed), then <em>Retry</em>. The two
          steps are separate on purpose, because the first one overwrites a success. In between, anything reading
          Firestore sees the report as failed, so keep the gap short.
        </p>
        <p>
          <em>Batch rerun</em> in the header does both steps for many succeeded documents at once and reports on each.
          Make sure the new pipeline version is in place before you start it.
        </p>
        <p>For a job that actually failed, Retry alone is enough. For an OCR correction, use Regenerate instead.</p>
      </>
    )
  },
  {
    id: "manual-add",
    title: "Manual Add",
    body: () => (
      <>
        <p>
          Some orders never become Data Ready by themselves, for example when a hospital uses its own lab. Manual Add
          tells the allocator to track such an order and emails the lab team to upload the data.
        </p>
        <ol>
          <li>
            Type a report id and <em>Validate</em>, or upload a CSV with one report id per line (a <code>report_id</code>{" "}
            header is optional). The server checks each one (the report exists, is not already Data Ready, belongs to
            a service the allocator runs, has a patient record, is not already on hold) and says why if not.
          </li>
          <li>What passes goes to the pending list; remove anything you did not mean to add.</li>
          <li>
            <em>Submit</em> creates the holds and prepares the patient folders the pipeline will read. Submitting the
            same report again after cancelling reuses what was prepared.
          </li>
          <li>When the lab confirms the upload, Release the hold in the Process Queue.</li>
        </ol>
      </>
    )
  },
  {
    id: "failures",
    title: "Retries, failures and outages",
    body: () => (
      <>
        <ul>
          <li>
            <strong>Failure</strong> (non-zero exit): a new attempt after RETRY_DELAY_SECONDS, up to MAX_RETRIES
            attempts; after the last one the document is failed for good, Firestore gets Failed and an email goes out.
          </li>
          <li>
            <strong>Input not there yet</strong> (exit code TEMP_FAIL_EXIT_CODE): the same attempt again after
            TEMP_FAIL_RETRY_DELAY_SECONDS. There is no limit; cancel it if the data will never come.
          </li>
          <li>
            <strong>Firestore write failed</strong> for one document: the row becomes failed sync and the whole
            document is retried after FAILED_SYNC_RETRY_DELAY_SECONDS. Once the Firestore problem is fixed you can Skip
            that wait in the Process Queue.
          </li>
          <li>
            <strong>Firestore unreachable</strong> altogether: the allocator enters outage mode (the red banner). It
            leaves running rows alone and recovers them once Firestore is back.
          </li>
          <li>
            <strong>A crash or restart</strong> while pipelines run: on the next start, interrupted attempts are
            re-queued as the next attempt, or failed if they were the last.
          </li>
          <li>
            <strong>Report moved out of Data Ready</strong> by someone else: a waiting or queued job is withdrawn
            (failed, Firestore untouched); a running one is left to finish.
          </li>
        </ul>
        <p>
          Old finished rows are removed once a day after their retention period (see Config); active rows are never
          removed.
        </p>
      </>
    )
  },
  {
    id: "config",
    title: "Config and the sandbox",
    body: () => (
      <>
        <p>
          Administrators can change these values in <em>Config</em>. Most apply within a moment; those marked restart
          apply after the allocator restarts (the Sysadmin panel has the command). Every change is checked against its
          range and recorded with who made it.
        </p>
        <table class="table small">
          <thead>
            <tr>
              <th>Key</th>
              <th class="num">Default</th>
              <th>Range</th>
              <th>Restart</th>
              <th>Meaning</th>
            </tr>
          </thead>
          <tbody>
            <For each={TUNABLE_KEYS}>
              {(key) => (
                <tr>
                  <td class="mono">{key}</td>
                  <td class="num">{TUNABLES[key].default}</td>
                  <td>
                    {TUNABLES[key].min} – {TUNABLES[key].max}
                  </td>
                  <td>{TUNABLES[key].restartRequired ? "yes" : ""}</td>
                  <td>{TUNABLES[key].description}</td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
        <p>
          <strong>The sandbox.</strong> Pipelines write intermediate files in places that are not always unique per
          patient, so two runs of the same pipeline at once could overwrite each other. With SANDBOX_ENABLED=1 every
          run gets its own scratch copy of the patient folders, the rest of the file system is read-only, and results
          are copied back when it ends. Only then is more than one worker safe: with the sandbox off, MAX_WORKERS is
          held at 1 whatever it is set to. A pipeline that suddenly fails with "Read-only file system" is writing
          somewhere it should not; the fix is in the pipeline, or, if the write is legitimate, an entry in the
          sandbox's write list in the server's configuration.
        </p>
      </>
    )
  }
]

export const HelpPage = () => {
  const topic = () => {
    const r = route()
    const id = r.page === "help" ? r.topic : undefined
    return TOPICS.find((t) => t.id === id) ?? TOPICS[0]
  }
  return (
    <div class="page">
      <header class="topbar">
        <div class="brand">
          <a href="#/">Lomi allocator</a>
          <span class="muted">Help</span>
        </div>
        <nav class="topbar-actions">
          <a class="button" href="#/">
            Back to the dashboard
          </a>
        </nav>
      </header>
      <main class="help">
        <nav class="help-nav" aria-label="Help topics">
          <For each={TOPICS}>
            {(t) => (
              <button type="button" classList={{ active: topic().id === t.id }} onClick={() => openHelp(t.id)}>
                {t.title}
              </button>
            )}
          </For>
        </nav>
        <article class="help-body" data-testid="help">
          <h1>{topic().title}</h1>
          <Show when={topic()} keyed>
            {(t) => t.body()}
          </Show>
        </article>
      </main>
    </div>
  )
}
