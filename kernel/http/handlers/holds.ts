/** Manual Add (validate one, validate a CSV, submit) and the holds it creates: release and cancel. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Either } from "effect"
import { Api, BadRequest, type ManualAddVerdict } from "../../../schemas/api.ts"
import { isSafeSegment } from "../../../schemas/report.ts"
import { validateManualAdd } from "../../manualAdd.ts"
import { FirestorePort } from "../../ports/firestore.ts"
import { HoldStore } from "../../store/holds.ts"
import { MAX_CSV_ROWS, parseReportIdCsv } from "../csv.ts"
import { bulk, execute, requireHold } from "./commands.ts"

const refusedVerdict = (doc: string, message: string): ManualAddVerdict => ({
  doc,
  ok: false,
  message,
  service: null,
  patientId: null,
  patientName: null
})

export const HoldsLive = HttpApiBuilder.group(Api, "holds", (handlers) =>
  Effect.gen(function* () {
    const context = yield* Effect.context<FirestorePort | HoldStore>()

    const verdict = (doc: string): Effect.Effect<ManualAddVerdict> =>
      isSafeSegment(doc)
        ? validateManualAdd(doc).pipe(
            Effect.provide(context),
            Effect.map((checked): ManualAddVerdict => {
              if (Either.isLeft(checked)) return refusedVerdict(doc, checked.left)
              const ok = checked.right
              // The report's patientName, else the patients document's name (as the Process Queue shows holds).
              const fromReport = typeof ok.report.patientName === "string" && ok.report.patientName !== "" ? ok.report.patientName : null
              const name = fromReport ?? (typeof ok.patient.name === "string" && ok.patient.name !== "" ? ok.patient.name : null)
              return {
                doc,
                ok: true,
                message: `can be added: ${ok.service}, patient ${ok.patientId}${name === null ? "" : ` (${name})`}`,
                service: ok.service,
                patientId: ok.patientId,
                patientName: name
              }
            })
          )
        : Effect.succeed(refusedVerdict(doc, `${JSON.stringify(doc)} is not a valid report id`))

    return handlers
      .handle("validateManualAdd", ({ payload }) => verdict(payload.doc))
      .handle("validateManualAddCsv", ({ payload }) =>
        Effect.gen(function* () {
          const lines = parseReportIdCsv(payload.csv)
          if (lines.length === 0) return yield* new BadRequest({ message: "the CSV has no report ids" })
          if (lines.length > MAX_CSV_ROWS) {
            return yield* new BadRequest({ message: `the CSV has ${lines.length} rows; the limit is ${MAX_CSV_ROWS}` })
          }
          const rows = yield* Effect.forEach(
            lines,
            (line) =>
              line._tag === "Duplicate"
                ? Effect.succeed({ line: line.line, ...refusedVerdict(line.doc, `duplicate of line ${line.firstLine}`) })
                : Effect.map(verdict(line.doc), (v) => ({ line: line.line, ...v })),
            { concurrency: 8 }
          )
          return {
            rows,
            accepted: rows.filter((r) => r.ok).map((r) => r.doc),
            rejected: rows.filter((r) => !r.ok).length
          }
        })
      )
      .handle("manualAdd", ({ payload }) => bulk(payload.docs, (doc) => execute({ _tag: "manual_add", doc })))
      .handle("release", ({ path }) => requireHold(path.doc).pipe(Effect.zipRight(execute({ _tag: "release", doc: path.doc }))))
      .handle("cancelHold", ({ path }) =>
        requireHold(path.doc).pipe(Effect.zipRight(execute({ _tag: "cancel_hold", doc: path.doc })))
      )
      .handle("releaseMany", ({ payload }) => bulk(payload.docs, (doc) => execute({ _tag: "release", doc })))
      .handle("cancelMany", ({ payload }) => bulk(payload.docs, (doc) => execute({ _tag: "cancel_hold", doc })))
  })
)
