/**
 * One attempt as every executor receives it, and how it ended: shared by the
 * execution host's protocol and the Slurm attempt file, so both carry the
 * same spec the kernel's executor port (kernel/ports/executor.ts) takes.
 */
import { Schema } from "effect"

export const PipelineSpecSchema = Schema.Struct({
  runId: Schema.Int,
  docId: Schema.String,
  patientId: Schema.String,
  service: Schema.String,
  attempt: Schema.Int,
  script: Schema.String,
  env: Schema.Record({ key: Schema.String, value: Schema.String }),
  logFile: Schema.String
})

export const PipelineExitSchema = Schema.Struct({
  code: Schema.NullOr(Schema.Int),
  signal: Schema.NullOr(Schema.String),
  errorMessage: Schema.optional(Schema.String)
})
