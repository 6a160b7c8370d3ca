/** Job commands: kill, skip, retry, reset, OCR re-run, mark-failed-for-retry, batch rerun. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../../../schemas/api.ts"
import { execute, requireReport, requireRun, requireRuns } from "./commands.ts"

export const JobsLive = HttpApiBuilder.group(Api, "jobs", (handlers) =>
  handlers
    .handle("kill", ({ path }) => requireRun(path.run).pipe(Effect.zipRight(execute({ _tag: "kill", run: path.run }))))
    .handle("skip", ({ path }) => requireRun(path.run).pipe(Effect.zipRight(execute({ _tag: "skip", run: path.run }))))
    .handle("retry", ({ path }) => requireReport(path.doc).pipe(Effect.zipRight(execute({ _tag: "retry", doc: path.doc }))))
    .handle("resetDataReady", ({ path }) =>
      requireReport(path.doc).pipe(Effect.zipRight(execute({ _tag: "reset_data_ready", doc: path.doc })))
    )
    .handle("regenerateOcr", ({ path }) =>
      requireRuns(path.doc).pipe(Effect.zipRight(execute({ _tag: "regenerate_ocr", doc: path.doc })))
    )
    .handle("markFailedForRetry", ({ path }) =>
      requireRuns(path.doc).pipe(Effect.zipRight(execute({ _tag: "mark_failed_for_retry", doc: path.doc })))
    )
    .handle("batchRerun", ({ payload }) =>
      Effect.gen(function* () {
        const results = yield* Effect.forEach(payload.docs, (doc) =>
          Effect.gen(function* () {
            const markFailed = yield* execute({ _tag: "mark_failed_for_retry", doc })
            const retry = markFailed.ok ? yield* execute({ _tag: "retry", doc }) : null
            const ok = markFailed.ok && retry !== null && retry.ok
            const message = ok
              ? `${doc} re-run requested`
              : retry === null
                ? `mark failed refused: ${markFailed.message}`
                : `marked failed, but retry refused: ${retry.message}`
            return { doc, ok, message, markFailed, retry }
          })
        )
        const done = results.filter((r) => r.ok).length
        return {
          ok: done === results.length,
          message: `${done} of ${results.length} re-run`,
          results
        }
      })
    )
)
