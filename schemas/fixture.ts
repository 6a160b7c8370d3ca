/**
 * Replay fixtures (shared/contracts/replay.md): a scripted history on a
 * virtual clock. Decoding reports the first problem as one line naming the
 * step index and the field at fault.
 */
import { Either, ParseResult, Schema } from "effect"
import { tunableProblem } from "./tunables.ts"

const DURATION = /^(\d+[smhd])+$/
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

export const Offset = Schema.String.pipe(
  Schema.pattern(DURATION, { message: () => 'expected a duration like "90s", "1h30m" or "3d"' })
)

/** `1h30m` → 5,400,000. */
export const offsetMillis = (offset: string): number =>
  [...offset.matchAll(/(\d+)([smhd])/g)].reduce((sum, [, n, unit]) => sum + Number(n) * (UNIT_MS[unit ?? "s"] ?? 0), 0)

const Data = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const DocWrite = Schema.Struct({ id: Schema.String, data: Data })

export const FixtureOutcome = Schema.Union(
  // `error` (an extension): the executor fails the attempt with this text whatever the code (a refused sandbox commit).
  Schema.Struct({ exit: Schema.Int, after: Offset, error: Schema.optional(Schema.String) }),
  Schema.Struct({ hang: Schema.Literal(true) })
)
export type FixtureOutcome = typeof FixtureOutcome.Type

const RunRef = { run: Schema.optional(Schema.Int), doc: Schema.optional(Schema.String) }
const DocRef = { doc: Schema.String }

export const FixtureCommand = Schema.Union(
  Schema.Struct({ name: Schema.Literal("kill", "skip"), ...RunRef }),
  Schema.Struct({
    name: Schema.Literal(
      "retry",
      "mark_failed_for_retry",
      "reset_data_ready",
      "manual_add",
      "release",
      "cancel_hold",
      "regenerate_ocr"
    ),
    ...DocRef
  }),
  Schema.Struct({ name: Schema.Literal("set_tunable"), key: Schema.String, value: Schema.Unknown })
)
export type FixtureCommand = typeof FixtureCommand.Type

/** Each step kind's value. A step is `{ at, <kind>: value }` with exactly one kind. */
export const STEP_KINDS = {
  doc: DocWrite,
  patch: DocWrite,
  delete: Schema.String,
  patient: DocWrite,
  replay: Schema.Literal(true),
  outcomes: Schema.Struct({ doc: Schema.String, runs: Schema.Array(FixtureOutcome) }),
  command: FixtureCommand,
  crash: Schema.Literal(true),
  allocator_restart: Schema.Union(Schema.Literal(true), Schema.Struct({ for: Offset })),
  firestore_fail_writes: Schema.Struct({ doc: Schema.String, for: Offset }),
  firestore_outage: Schema.Struct({ for: Offset }),
  // An extension: the execution host does not answer for a duration (its own restart); pipelines run on.
  executor_outage: Schema.Struct({ for: Offset }),
  snapshot: Schema.String
} as const

export type StepKind = keyof typeof STEP_KINDS
export type StepValue<K extends StepKind> = (typeof STEP_KINDS)[K]["Type"]
export type FixtureStep = { [K in StepKind]: { readonly at: number; readonly kind: K; readonly value: StepValue<K> } }[StepKind]

export interface Fixture {
  readonly name: string
  readonly start: number
  readonly timezone: string
  readonly tunables: Readonly<Record<string, number>>
  readonly steps: ReadonlyArray<FixtureStep>
  readonly until: number
}

const Header = Schema.Struct({
  name: Schema.String,
  start: Schema.optionalWith(Schema.String, { default: () => "2026-01-01T00:00:00Z" }),
  timezone: Schema.optionalWith(Schema.String, { default: () => "UTC" }),
  tunables: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), { default: () => ({}) }),
  steps: Schema.Array(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  until: Offset
})

const describe = (prefix: string, error: ParseResult.ParseError): string => {
  const first = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (first === undefined) return `${prefix}: invalid`
  const path = first.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")
  return `${prefix}${path}: ${first.message}`
}

const isKind = (key: string): key is StepKind => key in STEP_KINDS

/** Parses fixture JSON text. Left is one line naming where the problem is. */
/** A refusal is one line of at most 200 characters, however long the offending key or value. */
const shortLine = (message: string): string => {
  const line = message.replace(/[\r\n]+/g, " ")
  return line.length > 200 ? `${line.slice(0, 199)}…` : line
}

export const decodeFixture = (text: string): Either.Either<Fixture, string> => Either.mapLeft(decodeFixtureText(text), shortLine)

const decodeFixtureText = (text: string): Either.Either<Fixture, string> => {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    return Either.left(`fixture is not valid JSON: ${(e as Error).message}`)
  }
  const header = Schema.decodeUnknownEither(Header, { onExcessProperty: "error" })(raw)
  if (Either.isLeft(header)) return Either.left(describe("fixture", header.left))
  const h = header.right
  const start = Date.parse(h.start)
  if (Number.isNaN(start)) return Either.left(`fixture.start: not an ISO-8601 instant: ${JSON.stringify(h.start)}`)
  if (!isValidTimeZone(h.timezone)) return Either.left(`fixture.timezone: unknown time zone ${JSON.stringify(h.timezone)}`)
  const tunables: Record<string, number> = {}
  for (const [key, value] of Object.entries(h.tunables)) {
    const problem = tunableProblem(key, value)
    if (problem !== undefined) return Either.left(`fixture.tunables.${key}: ${problem}`)
    tunables[key] = value as number
  }

  const steps: Array<FixtureStep> = []
  const knownDocs = new Set<string>()
  let previous = 0
  for (const [index, step] of h.steps.entries()) {
    const where = `steps[${index}]`
    const at = Schema.decodeUnknownEither(Offset)(step.at)
    if (Either.isLeft(at)) return Either.left(describe(`${where}.at`, at.left))
    const millis = offsetMillis(at.right)
    if (millis < previous) return Either.left(`${where}.at: ${at.right} goes back in time (previous step is later)`)
    previous = millis
    const kinds = Object.keys(step).filter((k) => k !== "at")
    if (kinds.length !== 1) {
      return Either.left(`${where}: a step needs exactly one kind besides "at", found ${JSON.stringify(kinds)}`)
    }
    const kind = kinds[0] ?? ""
    if (!isKind(kind)) return Either.left(`${where}: unknown step kind ${JSON.stringify(kind)}`)
    const decoded = Schema.decodeUnknownEither(STEP_KINDS[kind] as Schema.Schema<unknown>, { onExcessProperty: "error" })(
      step[kind]
    )
    if (Either.isLeft(decoded)) return Either.left(describe(`${where}.${kind}`, decoded.left))
    const value = decoded.right
    const docNamed = docOf(kind, value)
    // replay.md: `outcomes` and `firestore_fail_writes` may arm something for a document a later
    // step creates; only `command`, `patch` and `delete` need it to exist already.
    if (kind === "doc") knownDocs.add(docNamed ?? "")
    else if (docNamed !== undefined && needsExistingDoc(kind) && !knownDocs.has(docNamed)) {
      return Either.left(`${where}.${kind}: names document ${JSON.stringify(docNamed)}, which no earlier doc step creates`)
    }
    steps.push({ at: millis, kind, value } as FixtureStep)
  }
  const until = offsetMillis(h.until)
  if (until < previous) return Either.left(`fixture.until: ${h.until} is before the last step`)
  return Either.right({ name: h.name, start, timezone: h.timezone, tunables, steps, until })
}

const needsExistingDoc = (kind: StepKind): boolean => kind === "command" || kind === "patch" || kind === "delete"

const docOf = (kind: StepKind, value: unknown): string | undefined => {
  if (kind === "delete") return typeof value === "string" ? value : undefined
  if (typeof value !== "object" || value === null) return undefined
  const v = value as Record<string, unknown>
  if (kind === "doc" || kind === "patch") return typeof v.id === "string" ? v.id : undefined
  return typeof v.doc === "string" ? v.doc : undefined
}

const isValidTimeZone = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone })
    return true
  } catch {
    return false
  }
}
