/**
 * Everything observable that the allocator does, as one tagged union. The
 * store, the Firestore writer, the notifier, workers and the command bus
 * publish these; the replay trace, the live SSE stream and metrics read them.
 */
import { Schema } from "effect"
import { JobState } from "./job.ts"

const at = Schema.String

export const AllocatorEvent = Schema.Union(
  Schema.TaggedStruct("insert", { at, run: Schema.Number, doc: Schema.String, attempt: Schema.Number, state: JobState }),
  Schema.TaggedStruct("transition", {
    at,
    run: Schema.Number,
    doc: Schema.String,
    attempt: Schema.Number,
    from: JobState,
    to: JobState
  }),
  Schema.TaggedStruct("firestore_write", {
    at,
    doc: Schema.String,
    fields: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
    ok: Schema.Boolean
  }),
  Schema.TaggedStruct("email", {
    at,
    template: Schema.String,
    doc: Schema.NullOr(Schema.String),
    status: Schema.Literal("ok", "failed", "skipped")
  }),
  Schema.TaggedStruct("spawn", { at, run: Schema.Number, doc: Schema.String }),
  Schema.TaggedStruct("exit", { at, run: Schema.Number, code: Schema.NullOr(Schema.Number) }),
  Schema.TaggedStruct("dedup", { at, doc: Schema.String }),
  Schema.TaggedStruct("command", {
    at,
    name: Schema.String,
    ok: Schema.Boolean,
    reason: Schema.optional(Schema.String)
  }),
  Schema.TaggedStruct("hold", { at, doc: Schema.String, state: Schema.String }),
  Schema.TaggedStruct("outage", { at, down: Schema.Boolean }),
  Schema.TaggedStruct("cleanup", {
    at,
    rows: Schema.Number,
    ocr_cache: Schema.Number,
    notifications: Schema.Number
  })
)
export type AllocatorEvent = typeof AllocatorEvent.Type

/** Distributes over the union so each event keeps its own fields, minus `at`. */
type WithoutAt<E> = E extends unknown ? Omit<E, "at"> : never
export type EventInput = WithoutAt<AllocatorEvent>
