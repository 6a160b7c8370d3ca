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

/** The fields the allocator relies on. Everything else on the document is kept as is. */
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
  | { readonly _tag: "Valid"; readonly id: string; readonly fields: ReportFields }
  | {
      readonly _tag: "Invalid"
      readonly id: string
      readonly service: string | undefined
      readonly patientId: string | undefined
      readonly reason: string
    }

const decodeFields = Schema.decodeUnknownEither(ReportFields, { onExcessProperty: "ignore" })

export const parseReport = (id: string, data: ReportData): ParsedReport => {
  const service = typeof data.service === "string" ? data.service : undefined
  const patientId = typeof data.patientId === "string" ? data.patientId : undefined
  const invalid = (reason: string): ParsedReport => ({ _tag: "Invalid", id, service, patientId, reason })
  if (!isSafeSegment(id)) return invalid(`report id ${JSON.stringify(id)} is not a safe path segment`)
  if (data.patientId === undefined || data.patientId === null || data.patientId === "") {
    return invalid("report has no patientId")
  }
  const decoded = decodeFields(data)
  if (Either.isLeft(decoded)) {
    const first = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
    const where = first === undefined ? "" : `${first.path.map(String).join(".")}: `
    return invalid(`report field ${where}${first?.message ?? "malformed"}`)
  }
  if (!isSafeSegment(decoded.right.patientId)) {
    return invalid(`patientId ${JSON.stringify(decoded.right.patientId)} is not a safe path segment`)
  }
  return { _tag: "Valid", id, fields: decoded.right }
}

/** A change to the `status == "Data Ready"` query, as Firestore's listener reports it. */
export const ReportChange = Schema.Union(
  Schema.TaggedStruct("Added", { id: Schema.String, data: ReportData }),
  Schema.TaggedStruct("Modified", { id: Schema.String, data: ReportData }),
  Schema.TaggedStruct("Removed", { id: Schema.String })
)
export type ReportChange = typeof ReportChange.Type
