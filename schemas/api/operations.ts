/**
 * Shapes for the dashboard's longer operations and exports: batch reruns
 * that run server-side and can be re-attached to, a document's timeline,
 * the jobs CSV export, and the restart an administrator asks for.
 */
import { Schema } from "effect"
import { TunableKey } from "../tunables.ts"
import { DateParam, StateList } from "./models.ts"
import { Service } from "../job.ts"

// ---------------------------------------------------------------------------
// Batch rerun as a server-side job

/**
 * One document of a batch: waiting its turn, being marked failed, being
 * retried, then done or refused (with the allocator's own sentence).
 */
export const BatchItemStatus = Schema.Literal("pending", "marking", "retrying", "done", "refused")
export type BatchItemStatus = typeof BatchItemStatus.Type

export const BatchItem = Schema.Struct({
  doc: Schema.String,
  status: BatchItemStatus,
  message: Schema.String,
  /** The new attempt's run id once the retry was accepted. */
  run: Schema.NullOr(Schema.Number)
})

export const BatchJob = Schema.Struct({
  id: Schema.String,
  startedBy: Schema.String,
  startedAt: Schema.String,
  finishedAt: Schema.NullOr(Schema.String),
  state: Schema.Literal("running", "finished"),
  items: Schema.Array(BatchItem),
  done: Schema.Number,
  refused: Schema.Number
})
export type BatchJob = typeof BatchJob.Type

export const BatchJobList = Schema.Struct({
  /** Newest first; finished batches are kept for a while so a page that was closed can read the outcome. */
  items: Schema.Array(BatchJob)
})

/** A batch id as the server hands it out: `b` and digits. */
export const BatchId = Schema.String.pipe(
  Schema.filter((s) => /^b\d{1,15}$/.test(s) || `${JSON.stringify(s.slice(0, 40))} is not a batch id`)
).annotations({ identifier: "BatchId" })

// ---------------------------------------------------------------------------
// A document's timeline

export const TimelineKind = Schema.Literal("attempt", "command", "hold", "email")

export const TimelineEntry = Schema.Struct({
  at: Schema.String,
  kind: TimelineKind,
  /** The attempt it concerns, when it concerns one. */
  run: Schema.NullOr(Schema.Number),
  title: Schema.String,
  detail: Schema.NullOr(Schema.String),
  /** false for a refusal, a failure or a failed email; null when neither applies. */
  ok: Schema.NullOr(Schema.Boolean)
})
export type TimelineEntry = typeof TimelineEntry.Type

export const DocTimeline = Schema.Struct({
  doc: Schema.String,
  /** Oldest first. */
  entries: Schema.Array(TimelineEntry)
})
export type DocTimeline = typeof DocTimeline.Type

// ---------------------------------------------------------------------------
// Jobs CSV export: the jobs list's filters, without paging

export const JobsCsvQuery = Schema.Struct({
  state: Schema.optional(StateList),
  service: Schema.optional(Service),
  from: Schema.optional(DateParam),
  to: Schema.optional(DateParam),
  q: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)))
})
export type JobsCsvQuery = typeof JobsCsvQuery.Type

// ---------------------------------------------------------------------------
// Restart

export const PendingTunable = Schema.Struct({
  key: TunableKey,
  /** What the running allocator applies. */
  running: Schema.Number,
  /** What is stored, applied after the next restart. */
  stored: Schema.Number
})

export const RestartStatus = Schema.Struct({
  /** Restart-required tunables whose stored value differs from the running one. */
  pending: Schema.Array(PendingTunable),
  /** When this allocator process started. */
  startedAt: Schema.String,
  /** True once a restart was asked for and the allocator is stopping. */
  restarting: Schema.Boolean
})
export type RestartStatus = typeof RestartStatus.Type

/** The body of POST /api/restart: a deliberate, typed confirmation, so an empty request changes nothing. */
export const RestartRequest = Schema.Struct({ confirm: Schema.Literal("restart") })

export const RestartAccepted = Schema.Struct({
  ok: Schema.Boolean,
  message: Schema.String
})
