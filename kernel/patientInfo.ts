/**
 * patient_info.json for a manual hold: one in the patient base tree and one
 * in the user-data tree, which downstream pipelines read once the lab
 * uploads. Idempotent: an existing file is kept unless `force` is set.
 */
import { Data, Effect } from "effect"
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { isSafeSegment } from "../schemas/report.ts"

export class PatientInfoError extends Data.TaggedError("PatientInfoError")<{ readonly message: string }> {}

/** What patient_info.json holds: the report and patient documents as Firestore has them. */
export const patientInfoContent = (reportId: string, service: string, patientId: string, report: unknown, patient: unknown) => ({
  reportId,
  service,
  patientId,
  patient,
  report
})

export const patientInfoFiles = (roots: ReadonlyArray<string>, patientId: string, reportId: string) =>
  roots.map((root) => join(root, patientId, reportId, "patient_info.json"))

export const writePatientInfo = (
  roots: ReadonlyArray<string>,
  patientId: string,
  reportId: string,
  content: unknown,
  force: boolean
) =>
  Effect.try({
    try: () => {
      if (!isSafeSegment(patientId) || !isSafeSegment(reportId)) {
        throw new Error(`unsafe path segment in ${JSON.stringify([patientId, reportId])}`)
      }
      const written: Array<string> = []
      for (const file of patientInfoFiles(roots, patientId, reportId)) {
        if (existsSync(file) && !force) continue
        mkdirSync(join(file, ".."), { recursive: true })
        writeFileSync(file, JSON.stringify(content, null, 2) + "\n")
        written.push(file)
      }
      return written
    },
    catch: (e) => new PatientInfoError({ message: `cannot write patient_info.json: ${(e as Error).message}` })
  })
