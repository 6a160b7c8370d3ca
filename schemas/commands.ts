/**
 * Operator commands: what the dashboard (and a replay fixture) can ask for.
 * Names match the replay contract. A run is named by `run` id or by `doc`
 * (meaning that document's newest row).
 */
import { Schema } from "effect"

const RunRef = { run: Schema.optional(Schema.Number), doc: Schema.optional(Schema.String) }
const Doc = { doc: Schema.String }

export const OperatorCommand = Schema.Union(
  Schema.TaggedStruct("kill", RunRef),
  Schema.TaggedStruct("skip", RunRef),
  Schema.TaggedStruct("retry", Doc),
  Schema.TaggedStruct("mark_failed_for_retry", Doc),
  Schema.TaggedStruct("reset_data_ready", Doc),
  Schema.TaggedStruct("manual_add", Doc),
  Schema.TaggedStruct("release", Doc),
  Schema.TaggedStruct("cancel_hold", Doc),
  Schema.TaggedStruct("regenerate_ocr", Doc),
  Schema.TaggedStruct("set_tunable", { key: Schema.String, value: Schema.Unknown })
)
export type OperatorCommand = typeof OperatorCommand.Type
export type CommandName = OperatorCommand["_tag"]

export const CommandResult = Schema.Struct({
  ok: Schema.Boolean,
  /** Why it was refused, or what it did. */
  message: Schema.String,
  run: Schema.optional(Schema.Number)
})
export type CommandResult = typeof CommandResult.Type

export const done = (message: string, run?: number): CommandResult =>
  run === undefined ? { ok: true, message } : { ok: true, message, run }
export const refused = (message: string): CommandResult => ({ ok: false, message })
