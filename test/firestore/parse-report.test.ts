/**
 * A report the listener delivers is judged by parseReport (schemas/report.ts):
 * a malformed one becomes Invalid with a reason an operator can act on, since
 * that reason ends up in the row's error_message and the failure email.
 */
import { describe, expect, it } from "vitest"
import { DATA_READY, parseReport } from "../../schemas/report.ts"

const invalidReason = (id: string, data: Record<string, unknown>): string => {
  const parsed = parseReport(id, data)
  if (parsed._tag !== "Invalid") throw new Error(`expected ${id} to be Invalid`)
  return parsed.reason
}

describe("parseReport reasons for malformed reports", () => {
  it("a missing patientId says so", () => {
    expect(invalidReason("r1", { status: DATA_READY, service: "Gen-Decoder" })).toBe("report has no patientId")
  })

  it("a wrong-typed field it needs names the field, what was expected and what was found", () => {
    const reason = invalidReason("r1", { status: DATA_READY, service: 42, patientId: "P001" })
    expect(reason).toBe("report field service: Expected string, actual 42")
  })

  it("a wrong-typed display field or flag does not fail the order: it is ignored with a warning", () => {
    const parsed = parseReport("r2", { status: DATA_READY, service: "Gen-Decoder", patientId: "P001", manualHoldRelease: "yes", patientName: 42 })
    expect(parsed).toEqual({
      _tag: "Valid",
      id: "r2",
      fields: { status: DATA_READY, service: "Gen-Decoder", patientId: "P001" },
      warnings: ["patientName ignored: expected a string, got 42", 'manualHoldRelease ignored: expected true or false, got "yes"']
    })
  })

  it("a missing service names the field", () => {
    expect(invalidReason("r1", { status: DATA_READY, patientId: "P001" })).toBe("report field service: is missing")
  })

  it("ids that are not safe path segments are refused with the value quoted", () => {
    expect(invalidReason("../etc", { status: DATA_READY, service: "Epi-Insight", patientId: "P001" })).toBe(
      'report id "../etc" is not a safe path segment'
    )
    expect(invalidReason("r1", { status: DATA_READY, service: "Epi-Insight", patientId: "a/b" })).toBe(
      'patientId "a/b" is not a safe path segment'
    )
  })

  it("the fields it reads keep their values; unknown fields do not make a report invalid", () => {
    const parsed = parseReport("r1", { status: DATA_READY, service: "Omni-Health", patientId: "P001", demoOutcome: "fail" })
    expect(parsed).toEqual({ _tag: "Valid", id: "r1", fields: { status: DATA_READY, service: "Omni-Health", patientId: "P001" }, warnings: [] })
  })
})
