/** Firestore `reports/{id}` documents and the changes the listener sees. */
import { Either, ParseResult, Schema } from "effect"

export const DATA_READY = "Data Ready"
export const FAILED = "Failed"

/** A segment that is safe to put in a file-system path: no separators, no dot-dot. */
export const SafeSegment = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/),
  Schema.filter((s) => !s.includes(".."), { message: () => "must not contain '..'" })
)
export const isSafeSegment = Schema.is(SafeSegment)

export const ReportData = Schema.Record({ key: Schema.String, value: Schema.Unknown })
export type ReportData = typeof ReportData.Type

/**
 * The fields the allocator relies on. Only `status`, `service` and `patientId`
 * decide whether a report can run. The display fields are optional and never
 * fail an order: a `patientName` or `collectionDate` that is not a string is
 * ignored (and reported in `warnings`, which the dispatcher logs), and
 * `manualHoldRelease` counts only when it is the boolean `true`; anything
 * else (`"true"`, 1) is treated as absent, so the report cools down as usual.
 */
export const ReportFields = Schema.Struct({
  status: Schema.String,
  service: Schema.String,
  patientId: Schema.String,
  patientName: Schema.optional(Schema.String),
  collectionDate: Schema.optional(Schema.String),
  manualHoldRelease: Schema.optional(Schema.Boolean)
})
export type ReportFields = typeof ReportFields.Type

/** A report as the dispatcher sees it: parsed, or the reason it could not be. */
export type ParsedReport =
  | { readonly _tag: "Valid"; readonly id: string; readonly fields: ReportFields; readonly warnings: ReadonlyArray<string> }
  | {
      readonly _tag: "Invalid"
      readonly id: string
      readonly service: string | undefined
      readonly patientId: string | undefined
      readonly reason: string
    }

const RequiredFields = Schema.Struct({ status: Schema.String, service: Schema.String, patientId: Schema.String })
const decodeRequired = Schema.decodeUnknownEither(RequiredFields, { onExcessProperty: "ignore" })

/** At most this many characters of a document's value are quoted back in a message or log line. */
export const QUOTE_LIMIT = 60

/** `JSON.stringify` of a value, cut to QUOTE_LIMIT characters. */
export const quote = (value: unknown): string => {
  let text: string
  try {
    text = JSON.stringify(value) ?? String(value)
  } catch {
    text = String(value)
  }
  return text.length > QUOTE_LIMIT ? `${text.slice(0, QUOTE_LIMIT)}…` : text
}

const DISPLAY_FIELDS = ["patientName", "collectionDate"] as const

export const parseReport = (id: string, data: ReportData): ParsedReport => {
  const service = typeof data.service === "string" ? data.service : undefined
  const patientId = typeof data.patientId === "string" ? data.patientId : undefined
  const invalid = (reason: string): ParsedReport => ({ _tag: "Invalid", id, service, patientId, reason })
  if (!isSafeSegment(id)) return invalid(`report id ${quote(id)} is not a safe path segment`)
  if (data.patientId === undefined || data.patientId === null || data.patientId === "") {
    return invalid("report has no patientId")
  }
  const decoded = decodeRequired(data)
  if (Either.isLeft(decoded)) {
    const first = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
    const where = first === undefined ? "" : `${first.path.map(String).join(".")}: `
    const message = (first?.message ?? "malformed").slice(0, 120)
    return invalid(`report field ${where}${message}`)
  }
  if (!isSafeSegment(decoded.right.patientId)) {
    return invalid(`patientId ${quote(decoded.right.patientId)} is not a safe path segment`)
  }
  const warnings: Array<string> = []
  const display: { patientName?: string; collectionDate?: string } = {}
  for (const key of DISPLAY_FIELDS) {
    const value = data[key]
    if (typeof value === "string") display[key] = value
    else if (value !== undefined && value !== null) warnings.push(`${key} ignored: expected a string, got ${quote(value)}`)
  }
  const release = data.manualHoldRelease
  if (release !== undefined && release !== null && typeof release !== "boolean") {
    warnings.push(`manualHoldRelease ignored: expected true or false, got ${quote(release)}`)
  }
  return {
    _tag: "Valid",
    id,
    fields: { ...decoded.right, ...display, ...(release === true ? { manualHoldRelease: true } : {}) },
    warnings
  }
}

/** A change to the `status == "Data Ready"` query, as Firestore's listener reports it. */
export const ReportChange = Schema.Union(
  Schema.TaggedStruct("Added", { id: Schema.String, data: ReportData }),
  Schema.TaggedStruct("Modified", { id: Schema.String, data: ReportData }),
  Schema.TaggedStruct("Removed", { id: Schema.String })
)
export type ReportChange = typeof ReportChange.Type
