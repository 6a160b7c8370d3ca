/**
 * Fuzzing the inputs that do not need a server: report documents, replay
 * fixtures, CSV uploads, tunables and config files. Whatever arrives, the
 * answer is a value or a refusal of one short line, never a throw.
 */
import { describe, expect, it } from "vitest"
import { Either } from "effect"
import fc from "fast-check"
import { parseConfig } from "../../kernel/config.ts"
import { parseReportIdCsv } from "../../kernel/http/csv.ts"
import { decodeFixture } from "../../schemas/fixture.ts"
import { parseReport } from "../../schemas/report.ts"
import { TUNABLE_KEYS, tunableProblem } from "../../schemas/tunables.ts"
import { fuzzParameters, isOneShortLine } from "./seed.ts"

/** Strings that have broken parsers before: NUL, separators, dot-dot, long runs, unicode. */
const nasty = fc.oneof(
  fc.string(),
  fc.constantFrom("", "\u0000", "../etc", "a/b", "..", ".", "Data Ready", "Gen-Decoder", "P-1", "constructor", "__proto__", "toString"),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.integer({ min: 0, max: 5000 }).map((n) => "x".repeat(n))
)
const value = fc.oneof(nasty, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 4 }))
const documentData = fc.record(
  {
    status: fc.oneof(fc.constant("Data Ready"), value),
    service: fc.oneof(fc.constantFrom("Gen-Decoder", "Epi-Insight", "Omni-Health"), value),
    patientId: fc.oneof(fc.constantFrom("P001", "P-2"), value),
    patientName: value,
    collectionDate: value,
    manualHoldRelease: value
  },
  { requiredKeys: [] }
)

describe("fuzz: inputs", () => {
  it("report documents: parsed, or refused with one short line naming the problem", () => {
    fc.assert(
      fc.property(nasty, documentData, (id, data) => {
        const parsed = parseReport(id, data)
        if (parsed._tag === "Invalid") expect(isOneShortLine(parsed.reason), parsed.reason.slice(0, 300)).toBe(true)
        else {
          // A valid report is runnable: the display fields never decided that.
          expect(typeof parsed.fields.patientId).toBe("string")
          for (const w of parsed.warnings) expect(isOneShortLine(w), w.slice(0, 300)).toBe(true)
        }
      }),
      fuzzParameters(200)
    )
  })

  it("replay fixtures: decoded, or refused with one short line", () => {
    const step = fc.record({ at: fc.oneof(fc.constantFrom("0s", "1h", "90s", "1h30m"), nasty), doc: fc.record({ id: nasty, data: documentData }) }, { requiredKeys: [] })
    const fixture = fc.record(
      {
        name: nasty,
        start: fc.oneof(fc.constant("2026-01-01T00:00:00Z"), nasty),
        timezone: fc.oneof(fc.constantFrom("UTC", "Asia/Tokyo"), nasty),
        tunables: fc.dictionary(fc.oneof(fc.constantFrom(...TUNABLE_KEYS), nasty), value),
        steps: fc.array(fc.oneof(step, value), { maxLength: 5 }),
        until: fc.oneof(fc.constant("2h"), nasty)
      },
      { requiredKeys: [] }
    )
    fc.assert(
      fc.property(fc.oneof(fixture.map((f) => JSON.stringify(f)), nasty), (text) => {
        const decoded = decodeFixture(text)
        if (Either.isLeft(decoded)) expect(isOneShortLine(decoded.left), decoded.left.slice(0, 300)).toBe(true)
      }),
      fuzzParameters(200)
    )
  })

  it("CSV uploads: every line is an id or a reason, never a throw", () => {
    fc.assert(
      fc.property(fc.oneof(nasty, fc.array(nasty, { maxLength: 30 }).map((lines) => lines.join("\n"))), (text) => {
        const lines = parseReportIdCsv(text)
        for (const line of lines) {
          const reason = (line as { reason?: unknown }).reason
          if (typeof reason === "string") expect(isOneShortLine(reason), reason.slice(0, 300)).toBe(true)
        }
      }),
      fuzzParameters(200)
    )
  })

  it("tunables: accepted only as in-range integers of a known key; refusals are one short line", () => {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...TUNABLE_KEYS), nasty), value, (key, v) => {
        const problem = tunableProblem(key, v)
        if (problem !== undefined) expect(isOneShortLine(problem), problem.slice(0, 300)).toBe(true)
        else {
          expect(TUNABLE_KEYS).toContain(key)
          expect(Number.isInteger(v)).toBe(true)
        }
      }),
      fuzzParameters(300)
    )
  })

  it("config files: a config, or one short line naming the key", () => {
    const config = fc.record(
      {
        dataDir: value,
        timezone: value,
        firestore: fc.oneof(fc.record({ mode: fc.oneof(fc.constantFrom("embedded", "live"), value), projectId: value }), value),
        services: value,
        paths: value,
        mail: value,
        http: fc.oneof(
          fc.record({ host: value, port: value, users: fc.array(fc.record({ name: value, role: value, passwordHash: value }), { maxLength: 3 }) }),
          value
        )
      },
      { requiredKeys: [] }
    )
    fc.assert(
      fc.property(fc.oneof(config.map((c) => JSON.stringify(c)), nasty), (text) => {
        const parsed = parseConfig(text, "/nonexistent-base", {})
        if (Either.isLeft(parsed)) expect(isOneShortLine(parsed.left.message), parsed.left.message.slice(0, 300)).toBe(true)
      }),
      fuzzParameters(200)
    )
  })
})
