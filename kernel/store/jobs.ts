/**
 * The job_runs table and the only code that changes a row's state.
 *
 * Every operation is one transaction; every state change is a guarded
 * `UPDATE … WHERE id = ? AND state IN (…)` that reports whether it applied,
 * so a lost race is a no-op the caller can see. The moves offered here are
 * exactly the state machine's (schemas/job.ts TRANSITIONS); `move` refuses
 * anything else as a programming error.
 */
import { SqlClient, type SqlError } from "@effect/sql"
import { Effect, Option } from "effect"
import {
  ACTIVE_STATES,
  DEDUP_BLOCKING_STATES,
  type JobRun,
  type JobState,
  type RunNote,
  TRANSITIONS
} from "../../schemas/job.ts"
import type { Tunables } from "../../schemas/tunables.ts"
import { EventBus } from "../events.ts"
import { PromoterMailbox, wake, WorkerMailbox } from "../mailboxes.ts"
import type { FirestoreFailedWritten } from "../firestoreFailed.ts"
import { nowIso } from "../time.ts"

/** Proof that Firestore already says `Failed` (rule 6); only a successful write makes one (kernel/firestoreFailed.ts). */
export type { FirestoreFailedWritten } from "../firestoreFailed.ts"

export interface NewRun {
  readonly docId: string
  readonly service: string
  readonly patientId: string | null
  readonly patientName: string | null
  readonly collectionDate: string | null
  readonly state: "received" | "waiting_cooldown" | "queued"
  readonly attempt: number
  readonly scheduledRunAt: string | null
  readonly notes: RunNote | null
}

export interface NextRun {
  readonly state: "waiting_cooldown" | "queued"
  readonly attempt: number
  readonly scheduledRunAt: string
  readonly notes: RunNote | null
}

export type ArrivalResult =
  | { readonly _tag: "Inserted"; readonly run: JobRun }
  | { readonly _tag: "Blocked"; readonly newest: JobRun }

export interface RunEnd {
  readonly exitCode: number | null
  readonly errorMessage: string | null
}

const RETENTION: ReadonlyArray<readonly [JobState, keyof Tunables]> = [
  ["succeeded", "RETENTION_SUCCEEDED_DAYS"],
  ["failed_retrying", "RETENTION_FAILED_RETRYING_DAYS"],
  ["temp_failed", "RETENTION_TEMP_FAILED_DAYS"],
  ["failed_sync", "RETENTION_FAILED_SYNC_DAYS"],
  ["failed_permanent", "RETENTION_FAILED_PERMANENT_DAYS"]
]

/** A transaction's result and the events to publish once it has committed. */
type Done<A> = readonly [A, ReadonlyArray<Effect.Effect<void>>]

const daysBefore = (iso: string, days: number) => new Date(Date.parse(iso) - days * 86_400_000).toISOString()

export class JobStore extends Effect.Service<JobStore>()("kernel/JobStore", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const events = yield* EventBus
    const promoter = yield* PromoterMailbox
    const workers = yield* WorkerMailbox

    /** A row that starts cooling or becomes runnable wakes the actor that waits for it. */
    const wakeFor = (state: JobState) =>
      state === "waiting_cooldown" ? promoter.post(wake) : state === "queued" ? workers.post(wake) : Effect.void

    const byId = (id: number) =>
      sql<JobRun>`SELECT * FROM job_runs WHERE id = ${id}`.pipe(Effect.map((rows) => Option.fromNullable(rows[0])))

    const newestForDoc = (docId: string) =>
      sql<JobRun>`SELECT * FROM job_runs WHERE doc_id = ${docId} ORDER BY id DESC LIMIT 1`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]))
      )

    const insertRow = (run: NewRun, now: string) =>
      Effect.gen(function* () {
        const rows = yield* sql<JobRun>`INSERT INTO job_runs ${sql.insert({
          doc_id: run.docId,
          service: run.service,
          patient_id: run.patientId,
          patient_name: run.patientName,
          collection_date: run.collectionDate,
          state: run.state,
          attempt: run.attempt,
          scheduled_run_at: run.scheduledRunAt,
          notes: run.notes,
          created_at: now,
          updated_at: now
        })} RETURNING *`
        const inserted = rows[0]
        if (inserted === undefined) return yield* Effect.dieMessage("INSERT returned no row")
        return inserted
      })

    const publishInsert = (run: JobRun) =>
      events
        .publish({ _tag: "insert", run: run.id, doc: run.doc_id, attempt: run.attempt, state: run.state })
        .pipe(Effect.zipRight(wakeFor(run.state)))

    /** The one guarded update. Dies on a move the state machine does not have. */
    const move = (
      id: number,
      from: ReadonlyArray<JobState>,
      to: JobState,
      set: Record<string, string | number | null>
    ) =>
      Effect.gen(function* () {
        const illegal = from.filter((f) => !(TRANSITIONS[f] as ReadonlyArray<JobState>).includes(to))
        if (illegal.length > 0) return yield* Effect.dieMessage(`illegal transition ${illegal.join(",")} -> ${to}`)
        const now = yield* nowIso
        const before = yield* byId(id)
        const rows = yield* sql<JobRun>`UPDATE job_runs SET ${sql.update({ ...set, state: to, updated_at: now })}
          WHERE id = ${id} AND state IN ${sql.in(from)} RETURNING *`
        const after = rows[0]
        if (after === undefined || Option.isNone(before)) return Option.none<{ before: JobRun; after: JobRun }>()
        return Option.some({ before: before.value, after })
      })

    const publishMove = (m: { before: JobRun; after: JobRun }) =>
      events.publish({
        _tag: "transition",
        run: m.after.id,
        doc: m.after.doc_id,
        attempt: m.after.attempt,
        from: m.before.state,
        to: m.after.state
      }).pipe(Effect.zipRight(wakeFor(m.after.state)))

    /** Runs a transaction, then publishes what it did (only once it has committed). */
    const committed = <A>(body: Effect.Effect<Done<A>, SqlError.SqlError>) =>
      sql.withTransaction(body).pipe(
        Effect.orDie,
        Effect.tap(([, publish]) => Effect.all(publish, { discard: true })),
        Effect.map(([a]) => a)
      )

    const moveOne = (id: number, from: ReadonlyArray<JobState>, to: JobState, set: Record<string, string | number | null>) =>
      committed(
        move(id, from, to, set).pipe(
          Effect.map((m) => [Option.map(m, (x) => x.after), Option.isSome(m) ? [publishMove(m.value)] : []] as const)
        )
      )

    return {
      byId: (id: number) => Effect.orDie(byId(id)),
      newestForDoc: (docId: string) => Effect.orDie(newestForDoc(docId)),
      rowsForDoc: (docId: string) =>
        Effect.orDie(sql<JobRun>`SELECT * FROM job_runs WHERE doc_id = ${docId} ORDER BY id`),
      all: Effect.orDie(sql<JobRun>`SELECT * FROM job_runs ORDER BY id`),
      inStates: (states: ReadonlyArray<JobState>) =>
        Effect.orDie(sql<JobRun>`SELECT * FROM job_runs WHERE state IN ${sql.in(states)} ORDER BY id`),

      /** Rule 2 and the insert it guards, in one transaction. */
      insertArrival: (run: NewRun) =>
        committed<ArrivalResult>(
          Effect.gen(function* () {
            const newest = yield* newestForDoc(run.docId)
            if (Option.isSome(newest) && DEDUP_BLOCKING_STATES.includes(newest.value.state)) {
              const blocked: ArrivalResult = { _tag: "Blocked", newest: newest.value }
              return [blocked, []] as const
            }
            const inserted = yield* insertRow(run, yield* nowIso)
            const result: ArrivalResult = { _tag: "Inserted", run: inserted }
            return [result, [publishInsert(inserted)]] as const
          })
        ),

      /** A new row outside the arrival path (OCR re-run). Refused while the document has an active row. */
      insertIfIdle: (run: NewRun) =>
        committed(
          Effect.gen(function* () {
            const active = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM job_runs
              WHERE doc_id = ${run.docId} AND state IN ${sql.in(ACTIVE_STATES)}`
            if ((active[0]?.n ?? 0) > 0) return [Option.none<JobRun>(), []] as const
            const inserted = yield* insertRow(run, yield* nowIso)
            return [Option.some(inserted), [publishInsert(inserted)]] as const
          })
        ),

      /** Rule 4: due cooldowns become queued, oldest due time first, then lowest id. */
      promoteDue: Effect.gen(function* () {
        const now = yield* nowIso
        return yield* committed(
          Effect.gen(function* () {
            const due = yield* sql<{ id: number }>`SELECT id FROM job_runs
              WHERE state = 'waiting_cooldown' AND scheduled_run_at <= ${now}
              ORDER BY scheduled_run_at, id`
            const moved: Array<JobRun> = []
            const publish: Array<Effect.Effect<void>> = []
            for (const { id } of due) {
              const m = yield* move(id, ["waiting_cooldown"], "queued", {})
              if (Option.isSome(m)) {
                moved.push(m.value.after)
                publish.push(publishMove(m.value))
              }
            }
            return [moved, publish] as const
          })
        )
      }),

      nextCooldownDue: sql<{ due: string | null }>`SELECT MIN(scheduled_run_at) AS due FROM job_runs
        WHERE state = 'waiting_cooldown'`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]?.due)),
        Effect.orDie
      ),

      /** Rules 3 and 10: a `received` row decided again from its document becomes runnable. */
      admitReceived: (
        id: number,
        next: { readonly state: "waiting_cooldown" | "queued"; readonly scheduledRunAt: string; readonly patientId: string }
      ) => moveOne(id, ["received"], next.state, { scheduled_run_at: next.scheduledRunAt, patient_id: next.patientId }),

      /** An operator's Skip: a cooling row becomes eligible now. */
      skip: (id: number) =>
        Effect.flatMap(nowIso, (now) => moveOne(id, ["waiting_cooldown"], "queued", { scheduled_run_at: now })),

      /** Rule 5: a worker takes the lowest-id queued row. */
      claimNextQueued: Effect.gen(function* () {
        const now = yield* nowIso
        return yield* committed(
          Effect.gen(function* () {
            const next = yield* sql<{ id: number }>`SELECT id FROM job_runs WHERE state = 'queued' ORDER BY id LIMIT 1`
            const first = next[0]
            if (first === undefined) return [Option.none<JobRun>(), []] as const
            const m = yield* move(first.id, ["queued"], "running", { started_at: now })
            return [Option.map(m, (x) => x.after), Option.isSome(m) ? [publishMove(m.value)] : []] as const
          })
        )
      }),

      /** Rule 10: the pipeline of a `running` row never started; it runs again at the same attempt. */
      requeueUnstarted: (id: number) =>
        moveOne(id, ["running"], "queued", { started_at: null, notes: "recovered" }),

      succeed: (id: number, exitCode: number) =>
        Effect.flatMap(nowIso, (now) =>
          moveOne(id, ["running"], "succeeded", { exit_code: exitCode, finished_at: now, error_message: null })
        ),

      /**
       * Ends a row in a terminal state that has a follow-up attempt, and inserts
       * that attempt, atomically (rules 5, 7, 10).
       */
      endWithFollowUp: (
        id: number,
        from: "running" | "received",
        to: "failed_retrying" | "temp_failed" | "failed_sync",
        end: RunEnd,
        next: NextRun
      ) =>
        Effect.gen(function* () {
          const now = yield* nowIso
          return yield* committed(
            Effect.gen(function* () {
              const m = yield* move(id, [from], to, {
                exit_code: end.exitCode,
                error_message: end.errorMessage,
                finished_at: now
              })
              if (Option.isNone(m)) return [Option.none<JobRun>(), []] as const
              const prev = m.value.after
              const inserted = yield* insertRow(
                {
                  docId: prev.doc_id,
                  service: prev.service,
                  patientId: prev.patient_id,
                  patientName: prev.patient_name,
                  collectionDate: prev.collection_date,
                  state: next.state,
                  attempt: next.attempt,
                  scheduledRunAt: next.scheduledRunAt,
                  notes: next.notes
                },
                now
              )
              return [Option.some(inserted), [publishMove(m.value), publishInsert(inserted)]] as const
            })
          )
        }),

      /** The second half of rule 6: Firestore already says Failed. */
      failPermanent: (id: number, from: ReadonlyArray<JobState>, end: RunEnd, proof: FirestoreFailedWritten) =>
        Effect.gen(function* () {
          const row = yield* Effect.orDie(byId(id))
          if (Option.isSome(row) && !proof.covers(row.value.doc_id)) {
            return yield* Effect.dieMessage(`run ${id}: a Failed write to ${proof.docId} proves nothing about ${row.value.doc_id}`)
          }
          const now = yield* nowIso
          return yield* moveOne(id, from, "failed_permanent", {
            exit_code: end.exitCode,
            error_message: end.errorMessage,
            finished_at: now
          })
        }),

      /** Rule 8: the document left Data Ready on its own; mirror it without writing Firestore. */
      withdraw: (docId: string) =>
        Effect.gen(function* () {
          const now = yield* nowIso
          return yield* committed(
            Effect.gen(function* () {
              const rows = yield* sql<{ id: number }>`SELECT id FROM job_runs WHERE doc_id = ${docId}
                AND state IN ('received', 'queued', 'waiting_cooldown') ORDER BY id`
              const moved: Array<JobRun> = []
              const publish: Array<Effect.Effect<void>> = []
              for (const { id } of rows) {
                const m = yield* move(id, ["received", "queued", "waiting_cooldown"], "failed_permanent", {
                  error_message: "Withdrawn from Firestore",
                  finished_at: now
                })
                if (Option.isSome(m)) {
                  moved.push(m.value.after)
                  publish.push(publishMove(m.value))
                }
              }
              return [moved, publish] as const
            })
          )
        }),

      /** A MODIFIED report refreshes what the dashboard shows of its waiting and running rows; never their state. */
      refreshDisplay: (docId: string, display: { readonly patientName: string | null; readonly collectionDate: string | null }) =>
        sql`UPDATE job_runs SET patient_name = ${display.patientName}, collection_date = ${display.collectionDate}
          WHERE doc_id = ${docId} AND state IN ${sql.in(ACTIVE_STATES)}`.pipe(Effect.asVoid, Effect.orDie),

      /** The executor's own id of the run's job (a Slurm job id), for the dashboard; never a state change. */
      setExternalId: (runId: number, externalId: string) =>
        sql`UPDATE job_runs SET external_id = ${externalId} WHERE id = ${runId}`.pipe(Effect.asVoid, Effect.orDie),

      /** Rule 13: terminal rows past their retention, by finished_at, else updated_at. */
      deleteExpired: (tunables: Tunables) =>
        Effect.gen(function* () {
          const now = yield* nowIso
          let deleted = 0
          for (const [state, key] of RETENTION) {
            const cutoff = daysBefore(now, tunables[key])
            const rows = yield* sql<{ id: number }>`DELETE FROM job_runs WHERE state = ${state}
              AND COALESCE(finished_at, updated_at) < ${cutoff} RETURNING id`
            deleted += rows.length
          }
          return deleted
        }).pipe(Effect.orDie)
    }
  })
}) {}
