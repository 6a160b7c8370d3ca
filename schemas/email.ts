/** Email templates, send outcomes and the context a template is rendered from. */
import { Schema } from "effect"

export const EMAIL_TEMPLATES = ["upload_reminder", "permanent_failure", "manual_add"] as const

/** Which message to send: arrival of a Gen-Decoder order, a document that gave up, a manual hold. */
export const EmailTemplate = Schema.Literal(...EMAIL_TEMPLATES)
export type EmailTemplate = typeof EmailTemplate.Type

/** One send attempt as the notifications log records it; `skipped`: emails off or no recipients. */
export const EmailStatus = Schema.Literal("ok", "failed", "skipped")
export type EmailStatus = typeof EmailStatus.Type

/** Everything a template may show. Only `docId`, `service`, `patientId` and `dashboardUrl` are always there. */
export const EmailContext = Schema.Struct({
  docId: Schema.String,
  service: Schema.String,
  patientId: Schema.String,
  patientName: Schema.optional(Schema.String),
  attempt: Schema.optional(Schema.Number),
  errorMessage: Schema.optional(Schema.String),
  /** The tail of the attempt's run log, oldest line first. */
  lastLogLines: Schema.optional(Schema.Array(Schema.String)),
  /** The dashboard's base URL; the message links to `<dashboardUrl>/#/doc/<docId>`. */
  dashboardUrl: Schema.String
})
export type EmailContext = typeof EmailContext.Type
