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
import { StateDiagram } from "./help/state-diagram.tsx"

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
    "Given up: retries are used up, an operator killed it, the report left Data Ready, or it was the first step of a rerun. Firestore says Failed (except after a withdrawal). Only some of these need a person: see below."
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
          Epi-Insight or Omni-Health) as a bash script on this server, normally inside a sandbox. Each run's exit code
          decides what happens next: done, try again later, or give up and tell Firestore <em>Failed</em>.
        </p>
        <p>
          Every attempt is its own row in the allocator's SQLite database, so the history of a document is the list of
          its attempts. Firestore says what the outside world should believe (Data Ready: please process; Failed: we
          gave up; Available: results are ready, written downstream). SQLite says what the allocator is doing. The
          allocator reads Data Ready and writes Failed; it never writes Available.
        </p>
        <p>The path of a normal order:</p>
        <ol>
          <li>The hospital's side sets the report to Data Ready; the Firestore listener hears of it within a second.</li>
          <li>
            The dispatcher records a row: Gen-Decoder orders wait out a 24-hour hold first (waiting), the others are
            queued at once.
          </li>
          <li>A timer moves waiting rows to the queue when they fall due.</li>
          <li>A free worker takes the oldest queued row and runs the pipeline, capturing its output in the run log.</li>
          <li>The exit code is routed: success, a retry later, a wait for missing input, or a final failure.</li>
        </ol>
        <p>
          This dashboard reads the allocator's state and sends it commands. Everything on it updates live; there is no
          need to reload. The dot next to the title says whether live updates are flowing. Every document and every run
          has its own address you can paste into a message: <code>#/doc/&lt;report id&gt;</code> and{" "}
          <code>#/run/&lt;run id&gt;</code>. The page follows your system's light or dark setting.
        </p>
      </>
    )
  },
  {
    id: "states",
    title: "State machine",
    body: () => (
      <>
        <p>
          Every attempt is in exactly one state, and the state alone decides what happens to it next. Solid arrows are
          a row changing state; dashed arrows are the allocator adding a <em>new</em> row for the next try (the old row
          keeps its outcome, so the history is never rewritten).
        </p>
        <StateDiagram />
        <p>Active states, which the allocator is still working on:</p>
        <StateList states={ACTIVE_STATES} />
        <p>
          Final states. A row in one of these never changes again, with one deliberate exception: Mark failed for retry
          turns a succeeded row into a failed one.
        </p>
        <StateList states={TERMINAL_STATES} />
        <h2>What "Failed - needs a human" counts</h2>
        <p>
          The red card counts documents, not rows: a document is counted when its <strong>newest</strong> row is{" "}
          {STATE_LABEL.failed_permanent.toLowerCase()} and that row was not ended on purpose. Left out are:
        </p>
        <ul>
          <li>older failed rows of a document that has been retried since (a newer row exists);</li>
          <li>withdrawals: someone moved the report out of Data Ready by hand ("Withdrawn from Firestore");</li>
          <li>kills and cancels by an operator ("Killed by …");</li>
          <li>
            the first step of a rerun, single or batch ("Marked failed for retry by …"): the Retry that follows adds a
            newer row anyway.
          </li>
        </ul>
        <p>
          What remains are documents whose retries ran out, reports that can never run (no patient id, say), and
          attempts that crash recovery gave up on. The card's second line gives the number of failed rows in all; the
          Jobs table filtered on Failed shows every one of them.
        </p>
        <h2>Firestore first, then SQLite</h2>
        <p>
          Whenever the allocator gives up on a document, it writes Failed to Firestore <strong>before</strong> it marks
          the row in SQLite. The listener only follows reports that say Data Ready, so the moment Firestore commits,
          no replayed event can reach the dispatcher for that document; while Firestore is being written the row is
          still active and blocks duplicates. Done the other way round there would be a short gap in which a replay
          finds no active row and starts a duplicate attempt. The only exception is a withdrawal: the report already
          left Data Ready, and the allocator mirrors that without writing back.
        </p>
        <h2>No duplicates</h2>
        <p>
          Firestore's client sometimes reports every matching report again (after a reconnect, for instance). A new row
          is only created when the document's newest row allows it. These block a new row: any active state,
          succeeded (already done), failed, retrying and temp failed (the next row is about to be added), and failed
          sync (it has its own retry row). {STATE_LABEL.failed_permanent} does not block, on purpose: that is how
          Reset to Data Ready and Retry start a fresh attempt 1.
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
          <strong>State cards</strong> count rows per state; click one to list its rows, and a row to open its
          document. <em>Waiting</em> adds timed holds and manual holds; its second line breaks the total down.{" "}
          <em>Retried</em> counts attempts that failed and were followed by another; they usually sort themselves out.{" "}
          <em>Failed - needs a human</em> is the one to watch (see State machine for exactly what it counts).
        </p>
        <p>
          <strong>Jobs</strong> lists every attempt, newest first. The search box matches the document id or the
          patient id anywhere in the text, ignoring case; it searches 300 ms after you stop typing, Enter searches at
          once and Esc clears it. Filters narrow by state, service and the day the job was received. <em>Export CSV</em>{" "}
          downloads every row that matches the current search and filters (not only the loaded page), built by the
          server; cells that a spreadsheet could take for a formula are prefixed with an apostrophe.
        </p>
        <p>
          <strong>Charts</strong> cover the last week or month: finished attempts per day by outcome, run time per
          service, failures by service, and how many jobs were waiting, queued and running over time. Click a legend
          entry to hide or show it.
        </p>
        <p>
          <strong>Command log</strong> records every action taken from the dashboard with who took it and the
          allocator's answer. <strong>Notifications</strong> records every email attempt: sent, failed, or skipped
          (emails switched off, or nobody to send to).
        </p>
        <p>
          <strong>Health</strong> runs three checks on request and keeps the answers for a while: Firestore (read one
          report), Gemini (find a model that can generate content with Omni-Health's key) and the report OCR service.
          The red outage banner, the "Firestore outage" flag in the header and the Firestore line of the Health panel
          all follow the same signal, the allocator's own outage state, so they change together.
        </p>
        <p>
          A button you may not use stays visible but greyed; hover over it or move to it with Tab to read why (usually
          the role it needs). Every control can be reached with the keyboard.
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
        <p>Both kinds show the patient id and, when the report has one, the patient's name.</p>
        <p>On a timed row:</p>
        <ul>
          <li>
            <em>Skip</em> makes it due now: it moves to the queue and runs when a worker is free. Use it after fixing
            whatever the wait was for (a Firestore problem behind a sync retry, say).
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
          Clicking a document anywhere opens its drawer. Its address, <code>#/doc/&lt;id&gt;</code>, can be shared, and
          the allocator's emails link to it; <code>#/run/&lt;id&gt;</code> opens the same drawer with that attempt's log
          picked. The drawer shows the report as Firestore has it now, every attempt with its times, exit code and
          error, each attempt's log, and a timeline.
        </p>
        <p>
          The log shown first is the newest attempt that has a log file: a row that is still waiting has none, and the
          last real output is more useful than an empty box. Click another attempt (or its run number) to see its log.
          While an attempt is active its log is followed live.
        </p>
        <p>
          A running attempt says who is following its pipeline, in the drawer and on its row in the Jobs table:{" "}
          <em>followed by the execution host (pid 4242)</em> is the small process beside the allocator that runs every
          pipeline and keeps its exit status, so the pipeline carries on through an allocator restart; on a Slurm
          cluster it reads <em>Slurm job 123 · RUNNING</em> (<em>PENDING</em> while the job waits for a node).
        </p>
        <p>
          A running attempt marked in red, <em>not followed by the execution host</em> (or by the Slurm executor),
          is one the allocator still counts as running although nothing follows its pipeline any more: its outcome may
          never be recorded. Look at the execution host's output (the journal under systemd, the terminal of{" "}
          <code>make run</code>) or at the Slurm job; <em>Restart now</em> in Config makes the allocator settle every running row from what the executor
          knows. An attempt that has only just started is not flagged for its first few seconds. When the execution
          host or Slurm does not answer, the line says <em>following not known</em> and nothing is flagged.
        </p>
        <p>
          The <strong>timeline</strong> puts everything that happened to the document in order: each attempt recorded,
          started and ended, each command from the dashboard with who sent it and the answer, manual holds and emails.
        </p>
        <p>Actions, each answered by the allocator with what it did or why it refused:</p>
        <ul>
          <li>
            <em>Kill</em> (or <em>Cancel</em> before it runs) gives up on the active attempt. It waits a moment first
            (KILL_GRACE_MS) so a run that is just finishing can finish; it then looks again, and if the run ended
            meanwhile the kill is dropped. Otherwise Firestore is set to Failed, the row is marked failed (only if it is
            still active) and the pipeline is stopped.
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
            Re-running.
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
          retry</em> (the succeeded attempt becomes failed and Firestore says Failed), then <em>Retry</em>. Retry only
          works on a report that Firestore calls Failed, which is why the first step exists; the two steps are separate
          on purpose, because the first one overwrites a success. In between, anything reading Firestore (the patient
          app, the clinical screens) sees the report as failed, so keep the gap short.
        </p>
        <p>
          <em>Batch rerun</em> in the header does both steps for many succeeded documents. It runs on the server as a
          job: each document shows its own progress (waiting, marking failed, retrying, then re-run or refused with the
          reason) as it happens. You may close the page; opening Batch rerun again, here or in another browser, shows
          the batch still running, or the outcome of the last one you started. A restart of the allocator ends a
          running batch where it stands: documents already handled stay handled, the rest were never touched. Make
          sure the new pipeline version is in place before you start.
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
          Some orders never become Data Ready by themselves: the hospital uses its own ordering system or its own lab.
          The order is in Firestore, but nothing will ever flip it. Manual Add tells the allocator to keep an eye on
          such an order and emails the lab team to upload the data.
        </p>
        <ol>
          <li>
            Type a report id and <em>Validate</em>, or upload a CSV with one report id per line (a <code>report_id</code>{" "}
            header is optional, blank lines are skipped, a repeated id is reported against its first line). Each id is
            checked on its own: the report exists, is not already Data Ready, belongs to a service the allocator runs,
            has a patient id with a patient record, and is not already on hold. A refusal says which check failed, in
            one sentence; an id that cannot be a report id at all (a slash, two dots) is refused before anything is
            asked. Typing a new id clears the previous answer.
          </li>
          <li>What passes goes to the pending list; remove anything you did not mean to add.</li>
          <li>
            <em>Submit</em> creates the holds and prepares, for each one, the patient folders and the{" "}
            <code>patient_info.json</code> the pipeline will read, filled from Firestore. Submitting the same report
            again after a cancel reuses what was prepared and does not read Firestore again; to refresh it after the
            report changed, use <code>make patient-info REPORT=&lt;id&gt; FORCE=1</code> on the server.
          </li>
          <li>
            The holds appear in the Process Queue (purple, no timer). When the lab confirms the upload, Release the hold.
          </li>
        </ol>
        <p>
          A release differs from an ordinary Data Ready in two ways: Gen-Decoder skips its 24-hour hold (the lab has
          already confirmed the data is there) and no upload reminder is emailed.
        </p>
      </>
    )
  },
  {
    id: "failures",
    title: "Failure modes",
    body: () => (
      <>
        <p>What can go wrong, what you will see, and what to do.</p>
        <h2>The pipeline fails (non-zero exit)</h2>
        <p>
          The row becomes failed, retrying and a new waiting row is added for the next attempt after
          RETRY_DELAY_SECONDS. After MAX_RETRIES attempts the last one becomes {STATE_LABEL.failed_permanent.toLowerCase()},
          Failed is written to Firestore and a failure email goes out. Read the log of the last attempt; once the cause
          is fixed, Retry.
        </p>
        <h2>The input is not there yet (exit code TEMP_FAIL_EXIT_CODE)</h2>
        <p>
          The agreed code for "I looked and the lab files have not arrived". The same attempt number is tried again
          after TEMP_FAIL_RETRY_DELAY_SECONDS; no retry is used up. There is no limit: a document whose data never comes
          loops for ever, until it succeeds, fails differently, or you Cancel it.
        </p>
        <h2>Writing Failed to Firestore fails for one document</h2>
        <p>
          The allocator checks whether Firestore as a whole answers. If it does, the problem is that document: the row
          becomes failed sync, the failure email still goes out, and the whole document is tried again from attempt 1
          after FAILED_SYNC_RETRY_DELAY_SECONDS (a light orange row in the Process Queue). Fix the document in
          Firestore, then Skip the wait.
        </p>
        <h2>Firestore is unreachable (outage)</h2>
        <p>
          If Firestore as a whole does not answer, the allocator enters outage mode: the red banner, the header flag and
          a failing Firestore health line appear together. No new pipeline starts, Failed writes that could not be made
          are kept and made in order once Firestore is back, and running rows are left alone. The allocator keeps
          probing and leaves outage mode by itself; the banner goes away when it does. Nothing needs doing on the
          dashboard; check the server's network and credentials.
        </p>
        <h2>The allocator stops while pipelines run</h2>
        <p>
          After a crash, a kill -9, an out-of-memory kill or a reboot, rows can be left running. On the next start
          recovery finds them: an attempt with retries left is recorded as failed, retrying and queued again as the next
          attempt; the last allowed attempt is failed for good (Firestore first, then the row, then the email).
        </p>
        <h2>Someone changes the report in Firestore</h2>
        <p>
          If a report leaves Data Ready while its job waits or is queued, the job is withdrawn: failed with "Withdrawn
          from Firestore", and Firestore is not written back (the person who changed it chose the new status). A running
          job is left to finish, because stopping a pipeline halfway through its writes is worse; if that run then
          fails, the allocator's Failed overwrites their change.
        </p>
        <h2>Listener replays</h2>
        <p>
          Firestore's client now and then reports every matching report again. The no-duplicates rule (see State
          machine) makes that harmless; the Command log and the jobs list will not show extra rows.
        </p>
        <h2>Old rows</h2>
        <p>
          Once a day at 03:00 server time, finished rows older than their retention are deleted (succeeded after 30
          days, failed, retrying and temp failed after 14, failed after 90), as are old OCR cache entries (30 days) and
          notification records (60 days). Active rows are never deleted, however old.
        </p>
      </>
    )
  },
  {
    id: "sandbox",
    title: "Sandbox and concurrency",
    body: () => (
      <>
        <h2>Why a sandbox</h2>
        <p>
          Pipeline code sometimes writes intermediate files inside its own repository, with names that do not include
          the patient. With one worker that is harmless. With two workers running the same pipeline at once, the two
          runs would overwrite each other's files and could produce a wrong report without any error. The sandbox gives
          every run its own view of the file system, so that MAX_WORKERS above 1 is safe.
        </p>
        <h2>What a sandboxed run sees</h2>
        <ol>
          <li>
            A scratch folder <code>run-&lt;run id&gt;</code> under the configured scratch root, on the same file system
            as the patient trees, with <code>base/</code>, <code>user-data/</code> and <code>repo-writes/</code>.
          </li>
          <li>The patient's folders are staged into it before the run (hard links where possible, so it is quick).</li>
          <li>
            The pipeline runs under bubblewrap: the whole file system read-only, the scratch folder writable, a private
            empty <code>/tmp</code>, the real cache folder mounted at <code>~/.cache</code> (so R, Python and model
            caches are shared and can be updated), and the attempt's log file bound in so the dashboard can follow it
            live.
          </li>
          <li>
            The runner is told where its data is: <code>LOMI_BASE_DIR</code> and <code>LOMI_USER_DIR</code> point into
            the scratch folder, and <code>LOMI_MINICONDA_BASE</code> at the configured conda installation. Unsandboxed,
            the first two point at the real trees.
          </li>
          <li>When the run ends, what it produced is copied back to the real patient trees and the scratch is removed.</li>
        </ol>
        <p>A write anywhere else fails at once with "Read-only file system" instead of silently colliding with another run.</p>
        <h2>When a pipeline fails with "Read-only file system"</h2>
        <ol>
          <li>Open the run's log and find the path it tried to write (EROFS, Errno 30, "Read-only file system").</li>
          <li>
            If the path is in the patient trees, the pipeline ignored LOMI_BASE_DIR or LOMI_USER_DIR: fix the pipeline.
          </li>
          <li>
            If it is a cache file the tool could skip (Python's <code>__pycache__</code>, for example), prefer an
            environment setting in the service's <code>env</code>; the allocator already sets
            PYTHONDONTWRITEBYTECODE=1.
          </li>
          <li>
            If it is inside the pipeline's own repository and the write is really needed, add{" "}
            <code>["&lt;repo&gt;", "&lt;path in the repo&gt;"]</code> to <code>sandbox.repoWriteWhitelist</code> in the
            configuration file (a folder or a single file both work); each run then gets its own private copy of that
            path. Restart the allocator.
          </li>
        </ol>
        <h2>Turning it off</h2>
        <p>
          Set SANDBOX_ENABLED to 0 in Config and restart (Config offers Restart now). Runs then go straight to disk,
          exactly as before the sandbox existed, and MAX_WORKERS is held at 1 whatever it is set to, because two
          unsandboxed runs can corrupt each other. <code>LOMI_SANDBOX_ENABLED=0</code> in the service's environment only
          sets the value on the very first start; once the value has been saved from the dashboard, the saved value
          wins. Use the environment for "this host can never run bubblewrap", the dashboard for "turn it off now".
        </p>
        <h2>Troubleshooting</h2>
        <ul>
          <li>Start-up refuses with a bubblewrap message: install it (<code>apt install bubblewrap</code>) or turn the sandbox off.</li>
          <li>
            Outputs missing after a successful run: compare with a run with the sandbox off; if that works, the pipeline
            writes somewhere the copy-back does not look.
          </li>
          <li>
            Stale <code>run-*</code> folders in the scratch root come from a hard stop; they are removed on the next
            start, or by hand (see Sysadmin) while the allocator is stopped.
          </li>
        </ul>
      </>
    )
  },
  {
    id: "config",
    title: "Config and restarts",
    body: () => (
      <>
        <p>
          Administrators can change these values in <em>Config</em>. Most apply within a moment; those marked restart
          are read once when the allocator starts. Every change is checked against its range, stored in SQLite and
          recorded with who made it. Paths, addresses, users and recipients live in the configuration file on the
          server instead.
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
        <h2>Restart now</h2>
        <p>
          When a restart-only value has been saved, Config lists it as waiting (the value the allocator runs with, and
          the stored one) and offers <em>Restart now</em>. The allocator then stops in order, as on any planned stop,
          and exits with code 75, which means "start me again": systemd (with <code>Restart=always</code>) or the{" "}
          <code>make run</code> launcher starts it again. The page shows "Restarting…", reconnects by itself, and you
          stay signed in. If it does not come back, use the restart command in the Sysadmin panel.
        </p>
      </>
    )
  },
  {
    id: "sysadmin",
    title: "Sysadmin procedures",
    body: () => (
      <>
        <p>
          These need a shell on the server. The Sysadmin panel at the bottom of the dashboard has each command filled in
          for this installation, with a Copy button.
        </p>
        <h2>Restart</h2>
        <p>
          Prefer <em>Restart now</em> in Config. From a shell, restart the service with systemctl and check its status.
          The unit should have <code>Restart=always</code>; the allocator also leaves with code 75 by itself in some
          cases and relies on being started again.
        </p>
        <h2>Is it up, and what is it doing?</h2>
        <ul>
          <li>
            <code>/readyz</code> answers when the database does, and says whether a Firestore outage is on;{" "}
            <code>/healthz</code> only says the process is up; <code>/metrics</code> is for Prometheus.
          </li>
          <li>The allocator's own log is in the journal (follow it with journalctl).</li>
          <li>
            Pipeline logs are files, one per attempt: <code>logs/&lt;doc&gt;/run-&lt;run&gt;/run.log.&lt;attempt&gt;</code>{" "}
            under the data folder. The panel has a command listing the newest.
          </li>
        </ul>
        <h2>Back up the database</h2>
        <p>
          Use SQLite's online backup (the panel's command) rather than copying the file, which can catch it halfway
          through a write. Keep the copy outside the data folder.
        </p>
        <h2>Stale sandbox folders</h2>
        <p>
          After a hard stop, <code>run-*</code> folders may be left in the scratch root. The next start removes them;
          when disk space is short, stop the service, remove them, start it again (the panel's command does the three
          steps).
        </p>
        <h2>Users and passwords</h2>
        <p>
          Users are listed in the configuration file with a role (viewer, operator, admin) and a scrypt password hash;
          the README shows the one-line command that makes a hash. With no users configured, the first start prints a
          generated admin password. Restart after changing users.
        </p>
        <h2>A patient_info.json out of date</h2>
        <p>
          <code>make patient-info REPORT=&lt;id&gt; FORCE=1</code> rewrites it from Firestore (Manual Add does not
          overwrite an existing one).
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
              <button
                type="button"
                classList={{ active: topic().id === t.id }}
                aria-current={topic().id === t.id ? "page" : undefined}
                onClick={() => openHelp(t.id)}
              >
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
