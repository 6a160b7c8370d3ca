/** Migration 3: a run carries its Slurm job id for the dashboard, and setting it never moves the row. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { JobStore } from "../../kernel/store/jobs.ts"
import { arrival, freshStore } from "../support/store.ts"

describe("job_runs.external_id", () => {
  it.effect("is null until set, then the job id, and the row keeps its state", () =>
    Effect.gen(function* () {
      const jobs = yield* JobStore
      const inserted = yield* jobs.insertArrival(arrival("slurm-doc"))
      if (inserted._tag !== "Inserted") throw new Error("blocked")
      const id = inserted.run.id
      const claimed = yield* jobs.claimNextQueued
      expect(Option.map(claimed, (r) => r.id)).toEqual(Option.some(id))
      const before = yield* jobs.byId(id)
      expect(Option.map(before, (r) => r.external_id)).toEqual(Option.some(null))
      yield* jobs.setExternalId(id, "4711")
      const after = yield* jobs.byId(id)
      expect(Option.map(after, (r) => [r.external_id, r.state])).toEqual(Option.some(["4711", "running"]))
    }).pipe(Effect.provide(freshStore()))
  )
})
