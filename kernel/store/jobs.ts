/**
 * The job_runs table and the only code that changes a row's state.
 *
 * Every operation is one transaction; every state change is a guarded
 * `UPDATE … WHERE id = ? AND state IN (…)` that reports whether it applied,
 * so a lost race is a no-op the caller can see. The moves offered here are
 * exactly the state machine's (schemas/job.ts TRANSITIONS); `move` refuses
 * anything else as a programming error.
 *
 * Per-job cost (this runs for every report): a move from one known state is
 * one statement and needs no transaction (a statement is atomic) and no
 * read of the row before it (RETURNING gives the row after, the guard gives
 * the state before). An arrival's dedup decision is one conditional INSERT.
 * Rows are decoded with the JobRun schema, never cast; a row that does not
 * decode is a defect.
 */
import { SqlClient, type SqlError } from "@effect/sql"
import { Effect, Option, type ParseResult, Schema } from "effect"
import {
  ACTIVE_STATES,
  DEDUP_BLOCKING_STATES,
  JobRun,
  JobState,
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

/** A move that applied: the state it left (known from the guard) and the row as it is now. */
interface Moved {
  readonly from: JobState
  readonly after: JobRun
}

type StoreError = SqlError.SqlError | ParseResult.ParseError

// Synchronous decoders returning Either (itself an Effect): every row of every statement goes through one,
// and the Effect-returning decoders cost a fiber step per value on the per-job path.
const decodeRuns = Schema.decodeUnknownEither(Schema.Array(JobRun))
const Ids = Schema.Array(Schema.Struct({ id: Schema.Number }))
const decodeIds = Schema.decodeUnknownEither(Ids)
const decodeStates = Schema.decodeUnknownEither(Schema.Array(Schema.Struct({ id: Schema.Number, state: JobState })))
const decodeDue = Schema.decodeUnknownEither(Schema.Array(Schema.Struct({ due: Schema.NullOr(Schema.String) })))
const decodeCount = Schema.decodeUnknownEither(Schema.Array(Schema.Struct({ n: Schema.Number })))

const daysBefore = (iso: string, days: number) => new Date(Date.parse(iso) - days * 86_400_000).toISOString()

export class JobStore extends Effect.Service<JobStore>()("kernel/JobStore", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const events = yield* EventBus
    const promoter = yield* PromoterMailbox
    const workers = yield* WorkerMailbox

    let endsFromRunning = 0

    /** A row that starts cooling or becomes runnable wakes the actor that waits for it. */
    const wakeFor = (state: JobState) =>
      state === "waiting_cooldown" ? promoter.post(wake) : state === "queued" ? workers.post(wake) : Effect.void

    /** Rows of job_runs from any statement that returns them (SELECT *, RETURNING *). */
    const runs = (statement: Effect.Effect<ReadonlyArray<unknown>, SqlError.SqlError>) =>
      Effect.flatMap(statement, decodeRuns)

    // Reads decode with the same synchronous decoder as every other statement (SqlSchema's decoders are Effects: a fiber step per row).
    const byId = (id: number) => Effect.map(runs(sql`SELECT * FROM job_runs WHERE id = ${id}`), (rows) => Option.fromNullable(rows[0]))

    const newestForDoc = (docId: string) =>
      Effect.map(runs(sql`SELECT * FROM job_runs WHERE doc_id = ${docId} ORDER BY id DESC LIMIT 1`), (rows) => Option.fromNullable(rows[0]))

    const rowsForDoc = (docId: string) => runs(sql`SELECT * FROM job_runs WHERE doc_id = ${docId} ORDER BY id`)

    const inStates = (states: ReadonlyArray<JobState>) =>
      runs(sql`SELECT * FROM job_runs WHERE state IN ${sql.in(states)} ORDER BY id`)

    const firstRow = (rows: ReadonlyArray<JobRun>, what: string) => {
      const row = rows[0]
      return row === undefined ? Effect.dieMessage(`${what} returned no row`) : Effect.succeed(row)
    }

    const newRowValues = (run: NewRun, now: string) => sql`${run.docId}, ${run.service}, ${run.patientId}, ${run.patientName},
      ${run.collectionDate}, ${run.state}, ${run.attempt}, ${run.scheduledRunAt}, ${run.notes}, ${now}, ${now}`
    const NEW_ROW_COLUMNS = sql.literal(
      "(doc_id, service, patient_id, patient_name, collection_date, state, attempt, scheduled_run_at, notes, created_at, updated_at)"
    )

    const insertRow = (run: NewRun, now: string) =>
      runs(sql`INSERT INTO job_runs ${NEW_ROW_COLUMNS} VALUES (${newRowValues(run, now)}) RETURNING *`).pipe(
        Effect.flatMap((rows) => firstRow(rows, "INSERT"))
      )

    /**
     * Rule 2 as one statement: the row goes in only if the document's newest
     * row does not block it. `known`: the caller already read the newest row
     * and decided; the insert then only checks that no row came since.
     */
    const insertUnlessBlocked = (run: NewRun, now: string, known: Option.Option<JobRun> | undefined) =>
      runs(
        known === undefined
          ? sql`INSERT INTO job_runs ${NEW_ROW_COLUMNS} SELECT ${newRowValues(run, now)}
              WHERE NOT EXISTS (SELECT 1 FROM (SELECT state FROM job_runs WHERE doc_id = ${run.docId} ORDER BY id DESC LIMIT 1)
                WHERE state IN ${sql.in(DEDUP_BLOCKING_STATES)}) RETURNING *`
          : sql`INSERT INTO job_runs ${NEW_ROW_COLUMNS} SELECT ${newRowValues(run, now)}
              WHERE (SELECT MAX(id) FROM job_runs WHERE doc_id = ${run.docId}) IS ${Option.match(known, {
                onNone: () => null,
                onSome: (r) => r.id
              })} RETURNING *`
      ).pipe(Effect.map((rows) => Option.fromNullable(rows[0])))

    const publishInsert = (run: JobRun) =>
      events
        .publish({ _tag: "insert", run: run.id, doc: run.doc_id, attempt: run.attempt, state: run.state })
        .pipe(Effect.zipRight(wakeFor(run.state)))

    /**
     * The one guarded update. Dies on a move the state machine does not have.
     * From a single state the guard says where the row came from; only a
     * move from several reads the state first (inside the caller's transaction).
     */
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
        const only = from.length === 1 ? from[0] : undefined
        const before =
          only ??
          (yield* Effect.flatMap(sql`SELECT id, state FROM job_runs WHERE id = ${id}`, decodeStates)).find((r) => r.id === id)?.state
        const rows = yield* runs(sql`UPDATE job_runs SET ${sql.update({ ...set, state: to, updated_at: now })}
          WHERE id = ${id} AND state IN ${sql.in(from)} RETURNING *`)
        const after = rows[0]
        if (after === undefined || before === undefined) return Option.none<Moved>()
        const moved: Moved = { from: before, after }
        return Option.some(moved)
      })

    const publishMove = (m: Moved) =>
      events.publish({
        _tag: "transition",
        run: m.after.id,
        doc: m.after.doc_id,
        attempt: m.after.attempt,
        from: m.from,
        to: m.after.state
      }).pipe(Effect.zipRight(wakeFor(m.after.state)))

    const publishAll = <A>(done: Done<A>) =>
      Effect.as(Effect.all(done[1], { discard: true }), done[0])

    /** Runs a transaction, then publishes what it did (only once it has committed). */
    const committed = <A>(body: Effect.Effect<Done<A>, StoreError>) =>
      sql.withTransaction(body).pipe(Effect.orDie, Effect.flatMap(publishAll))

    /** One statement is atomic on its own: no BEGIN/COMMIT round for it. */
    const single = <A>(body: Effect.Effect<Done<A>, StoreError>) => body.pipe(Effect.orDie, Effect.flatMap(publishAll))

    const moveOne = (id: number, from: ReadonlyArray<JobState>, to: JobState, set: Record<string, string | number | null>) =>
      (from.length === 1 ? single : committed)(
        move(id, from, to, set).pipe(
          Effect.map((m) => [Option.map(m, (x) => x.after), Option.isSome(m) ? [publishMove(m.value)] : []] as const)
        )
      )

    return {
      byId: (id: number) => Effect.orDie(byId(id)),
      newestForDoc: (docId: string) => Effect.orDie(newestForDoc(docId)),
      rowsForDoc: (docId: string) => Effect.orDie(rowsForDoc(docId)),
      all: Effect.orDie(runs(sql`SELECT * FROM job_runs ORDER BY id`)),
      inStates: (states: ReadonlyArray<JobState>) => Effect.orDie(inStates(states)),

      /**
       * Rule 2 and the insert it guards: one conditional INSERT. A caller
       * that has just read the document's newest row passes it (`known`) so
       * the decision is made once; should a row have arrived since, the
       * insert does not apply and the decision is made again from the table.
       */
      insertArrival: (run: NewRun, known?: Option.Option<JobRun>) =>
        single<ArrivalResult>(
          Effect.gen(function* () {
            if (known !== undefined && Option.isSome(known) && DEDUP_BLOCKING_STATES.includes(known.value.state)) {
              const blocked: ArrivalResult = { _tag: "Blocked", newest: known.value }
              return [blocked, []] as const
            }
            const now = yield* nowIso
            const guarded = yield* insertUnlessBlocked(run, now, known)
            const inserted = Option.isNone(guarded) && known !== undefined ? yield* insertUnlessBlocked(run, now, undefined) : guarded
            if (Option.isSome(inserted)) {
              const result: ArrivalResult = { _tag: "Inserted", run: inserted.value }
              return [result, [publishInsert(inserted.value)]] as const
            }
            const newest = yield* newestForDoc(run.docId)
            if (Option.isNone(newest)) return yield* Effect.dieMessage(`dedup blocked ${run.docId} without a row`)
            const blocked: ArrivalResult = { _tag: "Blocked", newest: newest.value }
            return [blocked, []] as const
          })
        ),

      /** A new row outside the arrival path (OCR re-run). Refused while the document has an active row. */
      insertIfIdle: (run: NewRun) =>
        committed(
          Effect.gen(function* () {
            const active = yield* Effect.flatMap(
              sql`SELECT COUNT(*) AS n FROM job_runs WHERE doc_id = ${run.docId} AND state IN ${sql.in(ACTIVE_STATES)}`,
              decodeCount
            )
            if ((active[0]?.n ?? 0) > 0) return [Option.none<JobRun>(), []] as const
            const inserted = yield* insertRow(run, yield* nowIso)
            return [Option.some(inserted), [publishInsert(inserted)]] as const
          })
        ),

      /** Rule 4: due cooldowns become queued, oldest due time first, then lowest id. */
      promoteDue: Effect.gen(function* () {
        const now = yield* nowIso
        // One UPDATE for the whole batch; RETURNING has no order, so the rows are put in rule 4's order here.
        return yield* single(
          Effect.gen(function* () {
            const rows = yield* runs(sql`UPDATE job_runs SET state = 'queued', updated_at = ${now}
              WHERE state = 'waiting_cooldown' AND scheduled_run_at <= ${now} RETURNING *`)
            const moved = [...rows].sort(
              (a, b) => (a.scheduled_run_at ?? "").localeCompare(b.scheduled_run_at ?? "") || a.id - b.id
            )
            const publish = moved.map((after) => publishMove({ from: "waiting_cooldown", after }))
            return [moved, publish] as const
          })
        )
      }),

      nextCooldownDue: Effect.flatMap(
        sql`SELECT MIN(scheduled_run_at) AS due FROM job_runs WHERE state = 'waiting_cooldown'`,
        decodeDue
      ).pipe(
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
        return yield* single(
          Effect.gen(function* () {
            const rows = yield* runs(sql`UPDATE job_runs SET state = 'running', started_at = ${now}, updated_at = ${now}
              WHERE id = (SELECT id FROM job_runs WHERE state = 'queued' ORDER BY id LIMIT 1) AND state = 'queued'
              RETURNING *`)
            const claimed = Option.fromNullable(rows[0])
            return [claimed, Option.isSome(claimed) ? [publishMove({ from: "queued", after: claimed.value })] : []] as const
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
          const ended = yield* moveOne(id, from, "failed_permanent", {
            exit_code: end.exitCode,
            error_message: end.errorMessage,
            finished_at: now
          })
          if (Option.isSome(ended) && from.includes("running")) endsFromRunning++
          return ended
        }),

      /**
       * Counts rows failed for good from a set of states that includes
       * `running` (a kill, an exhausted attempt). A worker compares it
       * before and after its Start: unchanged, nobody ended its row
       * meanwhile, and it need not read the row again.
       */
      endedWhileRunning: Effect.sync(() => endsFromRunning),

      /** Rule 8: the document left Data Ready on its own; mirror it without writing Firestore. */
      withdraw: (docId: string) =>
        Effect.gen(function* () {
          const now = yield* nowIso
          return yield* committed(
            Effect.gen(function* () {
              const withdrawable = ["received", "queued", "waiting_cooldown"] as const
              const before = yield* Effect.flatMap(
                sql`SELECT id, state FROM job_runs WHERE doc_id = ${docId} AND state IN ${sql.in(withdrawable)} ORDER BY id`,
                decodeStates
              )
              if (before.length === 0) return [[] as Array<JobRun>, []] as const
              const rows = yield* runs(sql`UPDATE job_runs
                SET state = 'failed_permanent', error_message = 'Withdrawn from Firestore', finished_at = ${now}, updated_at = ${now}
                WHERE doc_id = ${docId} AND state IN ${sql.in(withdrawable)} RETURNING *`)
              const after = new Map(rows.map((r) => [r.id, r]))
              const moved: Array<Moved> = []
              for (const b of before) {
                const a = after.get(b.id)
                if (a !== undefined) moved.push({ from: b.state, after: a })
              }
              return [moved.map((m) => m.after), moved.map(publishMove)] as const
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
            const rows = yield* Effect.flatMap(
              sql`DELETE FROM job_runs WHERE state = ${state} AND COALESCE(finished_at, updated_at) < ${cutoff} RETURNING id`,
              decodeIds
            )
            deleted += rows.length
          }
          return deleted
        }).pipe(Effect.orDie)
    }
  })
}) {}
