/**
 * Manual Add's checks (rule 11), shared by the holds actor and the HTTP
 * layer's validate-only endpoints: the report exists, is not already Data
 * Ready, has a managed service and a safe patientId with a patients document,
 * and has no hold yet. Reads only.
 */
import { Effect, Either, Option } from "effect"
import { isManagedService } from "../schemas/job.ts"
import { DATA_READY, isSafeSegment } from "../schemas/report.ts"
import { FirestorePort } from "./ports/firestore.ts"
import { HoldStore } from "./store/holds.ts"

export const validateManualAdd = (doc: string) =>
  Effect.gen(function* () {
    const port = yield* FirestorePort
    const holds = yield* HoldStore
    if (!isSafeSegment(doc)) return Either.left(`report id ${JSON.stringify(doc)} is not a safe path segment`)
    const report = yield* port.getReport(doc)
    if (report === undefined) return Either.left(`report ${doc} does not exist`)
    if (report.status === DATA_READY) return Either.left(`report ${doc} is already Data Ready`)
    if (!isManagedService(report.service)) return Either.left(`service ${JSON.stringify(report.service)} is not managed here`)
    const patientId = report.patientId
    if (typeof patientId !== "string" || !isSafeSegment(patientId)) {
      return Either.left(`patientId ${JSON.stringify(patientId)} is missing or not a safe path segment`)
    }
    const patient = yield* port.getPatient(patientId)
    if (patient === undefined) return Either.left(`patient ${patientId} has no patients document`)
    if (Option.isSome(yield* holds.holdingFor(doc))) return Either.left(`report ${doc} is already on hold`)
    return Either.right({ doc, service: report.service, patientId, report, patient })
  }).pipe(Effect.catchTag("FirestoreError", (e) => Effect.succeed(Either.left(`Firestore read failed: ${e.message}`))))

