/**
 * Files the Slurm executor and its batch job exchange on the shared
 * filesystem (`<stateDir>/run-<runId>/`): the attempt the compute node runs,
 * and the exit status it records before it ends, so an exit is never lost
 * when the controller forgets the job (MinJobAge) or the allocator is down.
 */
import { Schema } from "effect"
import { StaticConfig } from "./config.ts"
import { PipelineSpecSchema } from "./pipeline.ts"

export const AttemptSpec = PipelineSpecSchema

/** `attempt.json`: everything the compute node needs to prepare, run and finish one attempt. */
export const AttemptFile = Schema.Struct({
  spec: AttemptSpec,
  /** SANDBOX_ENABLED at submission: the node runs the pipeline in bwrap when 1. */
  sandboxEnabled: Schema.Boolean,
  /** SIGTERM → SIGKILL grace for the pipeline's process group when Slurm signals the job. */
  killGraceMs: Schema.Int,
  /** The allocator's patient trees and sandbox settings, as the node must see them (shared filesystem). */
  paths: StaticConfig.fields.paths,
  sandbox: StaticConfig.fields.sandbox,
  /** Paths the sandbox hides from the pipeline (the allocator's database, config, credentials). */
  hidden: Schema.Array(Schema.String)
})
export type AttemptFile = typeof AttemptFile.Type

/** `exit.json`, written atomically by the batch job just before it ends. */
export const RecordedExit = Schema.Struct({
  code: Schema.NullOr(Schema.Int),
  signal: Schema.NullOr(Schema.String),
  errorMessage: Schema.optional(Schema.String),
  /** The wrapper itself was signalled (scancel, time limit, node shutdown): the controller's state says which. */
  signalledBy: Schema.optional(Schema.String),
  /** Compute node that ran it. */
  host: Schema.String,
  finishedAt: Schema.String
})
export type RecordedExit = typeof RecordedExit.Type
