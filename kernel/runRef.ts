/** A command names a run by id, or by document (meaning that document's newest row). */
import { Effect, Either, Option } from "effect"
import type { JobRun } from "../schemas/job.ts"
import { JobStore } from "./store/jobs.ts"

export const resolveRunRef = (ref: { readonly run?: number | undefined; readonly doc?: string | undefined }) =>
  Effect.gen(function* () {
    const jobs = yield* JobStore
    if (ref.run !== undefined) {
      const row = yield* jobs.byId(ref.run)
      if (Option.isNone(row)) return Either.left(`unknown run ${ref.run}`)
      if (ref.doc !== undefined && row.value.doc_id !== ref.doc) {
        return Either.left(`run ${ref.run} belongs to ${row.value.doc_id}, not ${ref.doc}`)
      }
      return Either.right<JobRun>(row.value)
    }
    if (ref.doc !== undefined) {
      const row = yield* jobs.newestForDoc(ref.doc)
      return Option.match(row, {
        onNone: () => Either.left(`no runs for document ${ref.doc}`),
        onSome: (r) => Either.right<JobRun>(r)
      })
    }
    return Either.left("name a run or a document")
  })
