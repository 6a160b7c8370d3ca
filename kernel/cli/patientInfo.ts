/**
 * `make patient-info REPORT=<id> [FORCE=1]`: writes a report's
 * patient_info.json into both patient trees from Firestore as it is now.
 * Without FORCE an existing file is kept (what Manual Add does); with it,
 * the file is rewritten, e.g. after the patient's data changed in Firestore.
 * In the embedded demo it reaches the running allocator's emulator.
 */
import { Effect, Layer } from "effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { isSafeSegment } from "../../schemas/report.ts"
import { loadConfigFile } from "../config.ts"
import { emulatorHostFile, parseEmulatorHost } from "../firestore/emulator-host.ts"
import { liveFirestoreLayer } from "../firestore/live.ts"
import { patientInfoContent, writePatientInfo } from "../patientInfo.ts"
import { FirestorePort } from "../ports/firestore.ts"

const DEMO_CONFIG = fileURLToPath(new URL("../../fixtures/demo/config.json", import.meta.url))
const args = process.argv.slice(2)
const reportId = args.find((a) => !a.startsWith("--")) ?? ""
const force = args.includes("--force")

const fail = (message: string): never => {
  process.stderr.write(`patient-info: ${message}\n`)
  process.exit(2)
}

const program = Effect.gen(function* () {
  if (!isSafeSegment(reportId)) return fail(`REPORT must be a report id, got ${JSON.stringify(reportId)}`)
  const config = yield* loadConfigFile(process.env.LOMI_CONFIG ?? DEMO_CONFIG)
  if (config.firestore.mode === "embedded") {
    const hostFile = emulatorHostFile(config.dataDir)
    const found = (() => {
      try {
        return parseEmulatorHost(readFileSync(hostFile, "utf8"))
      } catch {
        return undefined
      }
    })()
    if (found === undefined) return fail(`no running demo found (${hostFile}); start it with make run`)
    process.env.FIRESTORE_EMULATOR_HOST = found.host
  }
  const written = yield* Effect.gen(function* () {
    const port = yield* FirestorePort
    const report = yield* port.getReport(reportId)
    if (report === undefined) return fail(`report ${reportId} does not exist`)
    const patientId = report.patientId
    if (typeof patientId !== "string" || !isSafeSegment(patientId)) return fail(`report ${reportId} has no usable patientId`)
    const patient = yield* port.getPatient(patientId)
    if (patient === undefined) return fail(`patient ${patientId} has no patients document`)
    const content = patientInfoContent(reportId, String(report.service), patientId, report, patient)
    return yield* writePatientInfo([config.paths.patientBaseDir, config.paths.userDataDir], patientId, reportId, content, force)
  }).pipe(Effect.provide(Layer.orDie(liveFirestoreLayer(config.firestore))))
  process.stdout.write(written.length === 0 ? "kept the existing files (use FORCE=1 to rewrite)\n" : `wrote ${written.join(", ")}\n`)
})

Effect.runPromise(program).catch((e: unknown) => fail(e instanceof Error ? e.message : String(e)))
