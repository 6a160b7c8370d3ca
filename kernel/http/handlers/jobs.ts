/** Job commands: kill, skip, retry, reset, OCR re-run, mark-failed-for-retry, batch rerun. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option, Stream } from "effect"
import { Api, CurrentUser, NotFound } from "../../../schemas/api.ts"
import { makeBatchReruns } from "../batchReruns.ts"
import { HttpAuth } from "../auth.ts"
import { SSE_PREAMBLE, sessionSse, sseEvent } from "../sse.ts"
import { execute, requireReport, requireRun, requireRuns } from "./commands.ts"

export const JobsLive = HttpApiBuilder.group(Api, "jobs", (handlers) =>
  Effect.gen(function* () {
    const batches = yield* makeBatchReruns
    const auth = yield* HttpAuth
    const requireBatch = (id: string) =>
      Effect.flatMap(
        batches.get(id),
        Option.match({
          onNone: () => Effect.fail(new NotFound({ message: `There is no batch ${id}; it may be from before the last restart.` })),
          onSome: Effect.succeed
        })
      )
    return handlers
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
      .handle("startBatchRerun", ({ payload }) =>
        Effect.flatMap(CurrentUser, (user) => batches.start(user.name, payload.docs))
      )
      .handle("batchReruns", () => Effect.map(batches.list, (items) => ({ items })))
      .handle("batchRerunStatus", ({ path }) => requireBatch(path.batch))
      .handle("batchRerunStream", ({ path }) =>
        Effect.flatMap(requireBatch(path.batch), () =>
          sessionSse(
            auth,
            Stream.concat(
              Stream.make(SSE_PREAMBLE),
              Stream.concat(
                batches.watch(path.batch).pipe(Stream.map((job) => sseEvent(JSON.stringify(job)))),
                Stream.make(sseEvent(JSON.stringify({ batch: path.batch }), "end"))
              )
            )
          )
        )
      )
  })
)
