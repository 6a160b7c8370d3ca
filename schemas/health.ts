/** The dashboard's on-demand health checks and their (cached) results. */
import { Schema } from "effect"

/** `slurm` is present only when the allocator runs pipelines on a Slurm cluster. */
export const HEALTH_CHECK_NAMES = ["firestore", "gemini", "ocr", "slurm"] as const

export const HealthCheckName = Schema.Literal(...HEALTH_CHECK_NAMES)
export type HealthCheckName = typeof HealthCheckName.Type

export const HealthResult = Schema.Struct({
  name: HealthCheckName,
  ok: Schema.Boolean,
  /** One line for the operator: what was found, or why the check failed. Never holds a secret. */
  detail: Schema.String,
  /** When the check ran (ISO-8601 UTC); a cached result keeps its original time. */
  checkedAt: Schema.String,
  latencyMs: Schema.Number,
  /** Gemini only: the generateContent-capable model the check picked. */
  model: Schema.optional(Schema.String)
})
export type HealthResult = typeof HealthResult.Type
