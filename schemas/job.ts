/**
 * The job_runs state machine, defined once.
 *
 * One row per attempt. A row is born `waiting_cooldown` or `queued` (or, for
 * a document that can never run, `failed_permanent`), moves to `running` when
 * a worker claims it, and ends in one terminal state. Terminal rows never
 * change again, with one deliberate exception: an operator's
 * mark-failed-for-retry turns `succeeded` into `failed_permanent`.
 */
import { Schema } from "effect"

export const ACTIVE_STATES = ["received", "waiting_cooldown", "queued", "running"] as const
export const TERMINAL_STATES = [
  "succeeded",
  "failed_retrying",
  "temp_failed",
  "failed_sync",
  "failed_permanent"
] as const

export const JobState = Schema.Literal(...ACTIVE_STATES, ...TERMINAL_STATES)
export type JobState = typeof JobState.Type
export type ActiveState = (typeof ACTIVE_STATES)[number]
export type TerminalState = (typeof TERMINAL_STATES)[number]

/** A newest row in one of these states blocks a new row for the document (rule 2). */
export const DEDUP_BLOCKING_STATES: ReadonlyArray<JobState> = [
  ...ACTIVE_STATES,
  "succeeded",
  "failed_retrying",
  "temp_failed",
  "failed_sync"
]

export const isActive = (state: JobState): state is ActiveState =>
  (ACTIVE_STATES as ReadonlyArray<string>).includes(state)

/** Every legal move. The store offers no way to make any other. */
export const TRANSITIONS = {
  // failed_sync: a report that cannot run whose Failed write failed while Firestore answered (rules 3, 7).
  received: ["waiting_cooldown", "queued", "failed_sync", "failed_permanent"],
  waiting_cooldown: ["queued", "failed_permanent"],
  queued: ["running", "failed_permanent"],
  // running -> queued: start-up recovery found the pipeline never started (rule 10); same attempt.
  running: ["succeeded", "failed_retrying", "temp_failed", "failed_sync", "failed_permanent", "queued"],
  succeeded: ["failed_permanent"],
  failed_retrying: [],
  temp_failed: [],
  failed_sync: [],
  failed_permanent: []
} as const satisfies Record<JobState, ReadonlyArray<JobState>>

export type Transition = {
  [F in JobState]: { readonly from: F; readonly to: (typeof TRANSITIONS)[F][number] }
}[JobState]

/** States a row may be in just before it reaches `to`. */
export const sourcesOf = (to: JobState): ReadonlyArray<JobState> =>
  (Object.keys(TRANSITIONS) as Array<JobState>).filter((from) =>
    (TRANSITIONS[from] as ReadonlyArray<JobState>).includes(to)
  )

export const RunNote = Schema.Literal("sync_retry", "ocr_rerun", "recovered", "manual_release")
export type RunNote = typeof RunNote.Type

export const JobRun = Schema.Struct({
  id: Schema.Number,
  doc_id: Schema.String,
  service: Schema.String,
  patient_id: Schema.NullOr(Schema.String),
  patient_name: Schema.NullOr(Schema.String),
  collection_date: Schema.NullOr(Schema.String),
  state: JobState,
  attempt: Schema.Number,
  scheduled_run_at: Schema.NullOr(Schema.String),
  started_at: Schema.NullOr(Schema.String),
  finished_at: Schema.NullOr(Schema.String),
  exit_code: Schema.NullOr(Schema.Number),
  error_message: Schema.NullOr(Schema.String),
  notes: Schema.NullOr(Schema.String),
  created_at: Schema.String,
  updated_at: Schema.String,
  /** The executor's id of the attempt's job (Slurm job id); absent or null for local runs. */
  external_id: Schema.optional(Schema.NullOr(Schema.String))
})
export type JobRun = typeof JobRun.Type

export const HoldState = Schema.Literal("holding", "released", "cancelled")
export type HoldState = typeof HoldState.Type

export const ManualHold = Schema.Struct({
  id: Schema.Number,
  doc_id: Schema.String,
  service: Schema.String,
  patient_id: Schema.String,
  state: HoldState,
  created_at: Schema.String,
  updated_at: Schema.String,
  created_by: Schema.NullOr(Schema.String)
})
export type ManualHold = typeof ManualHold.Type

/** The allocator-managed services. Anything else in `service` is ignored. */
export const SERVICES = ["Gen-Decoder", "Epi-Insight", "Omni-Health"] as const
export const Service = Schema.Literal(...SERVICES)
export type Service = typeof Service.Type
export const isManagedService = (s: unknown): s is Service =>
  typeof s === "string" && (SERVICES as ReadonlyArray<string>).includes(s)
