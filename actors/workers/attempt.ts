/**
 * One attempt: the pipeline process as a scoped resource, its exit routed.
 * Interruption (a kill, shutdown) closes the scope, which ends the whole
 * process group; an interrupted attempt routes nothing.
 */
import { Effect, Either, Ref } from "effect"
import { existsSync } from "node:fs"
import { join } from "node:path"
import type { JobRun } from "../../schemas/job.ts"
import { isSafeSegment } from "../../schemas/report.ts"
import { AppConfig } from "../../kernel/config.ts"
import { EventBus } from "../../kernel/events.ts"
import { PermanentFailure } from "../../kernel/failure.ts"
import { runLogFile } from "../../kernel/paths.ts"
import { ProcessPort } from "../../kernel/ports/process.ts"
import { OcrCache } from "../../kernel/store/ocrCache.ts"
import { routeOutcome } from "./routing.ts"

/** Why a row may not run at all: the dispatcher's check, repeated for a sync-retry row. */
const unrunnable = (run: JobRun): string | undefined => {
  if (!isSafeSegment(run.doc_id)) return `report id ${JSON.stringify(run.doc_id)} is not a safe path segment`
  if (run.patient_id === null || run.patient_id === "") return "report has no patientId"
  if (!isSafeSegment(run.patient_id)) return `patientId ${JSON.stringify(run.patient_id)} is not a safe path segment`
  return undefined
}

export const ocrOutputFile = (userDataDir: string, patientId: string) =>
  join(userDataDir, patientId, "Omni-Health", "ocr.json")

export const runAttempt = (run: JobRun) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const port = yield* ProcessPort
    const events = yield* EventBus
    const ocr = yield* OcrCache

    const problem = unrunnable(run)
    if (problem !== undefined || run.patient_id === null) {
      const failure = yield* PermanentFailure
      yield* failure.failPermanently({
        run,
        from: ["running"],
        reason: problem ?? "report has no patientId",
        exitCode: null,
        email: true,
        onWriteFailure: "sync_retry"
      })
      return
    }
    const patientId = run.patient_id
    const service = run.service as keyof typeof config.services
    const logFile = runLogFile(config.dataDir, run.doc_id, run.id, run.attempt)
    const cached = run.notes === "ocr_rerun" ? yield* ocr.get(run.doc_id) : undefined
    const env: Record<string, string> = {
      ...config.services[service].env,
      LOMI_RUN_ID: String(run.id),
      LOMI_ATTEMPT: String(run.attempt),
      ...(cached !== undefined && cached._tag === "Some" ? { LOMI_OCR_FILE: cached.value.ocr_path } : {})
    }
    const spawned = yield* Ref.make(false)

    yield* Effect.scoped(
      Effect.gen(function* () {
        const started = yield* Effect.either(
          port.start({
            runId: run.id,
            docId: run.doc_id,
            patientId,
            service: run.service,
            attempt: run.attempt,
            script: config.services[service].script,
            env,
            logFile
          })
        )
        if (Either.isLeft(started)) {
          yield* Effect.logWarning(`run ${run.id} could not start: ${started.left.message}`)
          return yield* Effect.uninterruptible(
            routeOutcome(run, { _tag: "CouldNotRun", message: started.left.message }, logFile)
          )
        }
        yield* Ref.set(spawned, true)
        yield* events.publish({ _tag: "spawn", run: run.id, doc: run.doc_id })
        const exit = yield* started.right.exit
        yield* Ref.set(spawned, false)
        yield* events.publish({ _tag: "exit", run: run.id, code: exit.code })
        const outcome =
          exit.code === null
            ? { _tag: "CouldNotRun" as const, message: `pipeline ended by signal ${exit.signal ?? "unknown"}` }
            : { _tag: "Exited" as const, code: exit.code }
        yield* Effect.uninterruptible(
          routeOutcome(run, outcome, logFile).pipe(
            Effect.zipRight(
              exit.code === 0 && run.service === "Omni-Health" && existsSync(ocrOutputFile(config.paths.userDataDir, patientId))
                ? ocr.put(run.doc_id, run.id, ocrOutputFile(config.paths.userDataDir, patientId))
                : Effect.void
            )
          )
        )
      })
    ).pipe(
      Effect.onInterrupt(() =>
        Ref.get(spawned).pipe(
          Effect.flatMap((wasRunning) => (wasRunning ? events.publish({ _tag: "exit", run: run.id, code: null }) : Effect.void))
        )
      ),
      Effect.annotateLogs({ run: run.id, doc: run.doc_id })
    )
  })
