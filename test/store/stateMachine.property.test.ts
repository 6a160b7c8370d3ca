import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import fc from "fast-check"
import { ACTIVE_STATES, isActive, JobState, TRANSITIONS, type JobRun } from "../../schemas/job.ts"
import { defaultTunables } from "../../schemas/tunables.ts"
import { routeFor } from "../../kernel/routing.ts"
import { JobStore } from "../../kernel/store/jobs.ts"
import { failedProof } from "../support/proof.ts"
import { arrival, freshStore } from "../support/store.ts"
import { Schema } from "effect"

const DOCS = ["a", "b", "c"] as const
const tunables = { ...defaultTunables(), MAX_RETRIES: 3 }

type Op =
  | { readonly op: "arrive"; readonly doc: string; readonly cools: boolean }
  | { readonly op: "promote" }
  | { readonly op: "claim" }
  | { readonly op: "finish"; readonly code: number }
  | { readonly op: "withdraw"; readonly doc: string }
  | { readonly op: "kill"; readonly doc: string }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("arrive" as const), doc: fc.constantFrom(...DOCS), cools: fc.boolean() }),
  fc.constant({ op: "promote" as const }),
  fc.constant({ op: "claim" as const }),
  fc.record({ op: fc.constant("finish" as const), code: fc.constantFrom(0, 1, 2, 75) }),
  fc.record({ op: fc.constant("withdraw" as const), doc: fc.constantFrom(...DOCS) }),
  fc.record({ op: fc.constant("kill" as const), doc: fc.constantFrom(...DOCS) })
)

const apply = (op: Op) =>
  Effect.gen(function* () {
    const jobs = yield* JobStore
    const past = "2000-01-01T00:00:00.000Z"
    switch (op.op) {
      case "arrive":
        yield* jobs.insertArrival(arrival(op.doc, { state: op.cools ? "waiting_cooldown" : "queued", scheduledRunAt: past }))
        return
      case "promote":
        yield* jobs.promoteDue
        return
      case "claim":
        yield* jobs.claimNextQueued
        return
      case "finish": {
        const running = yield* jobs.inStates(["running"])
        const run = running[0]
        if (run === undefined) return
        const route = routeFor({ _tag: "Exited", code: op.code }, run.attempt, tunables)
        const end = { exitCode: op.code, errorMessage: null }
        if (route === "succeeded") yield* jobs.succeed(run.id, 0)
        else if (route === "exhausted") yield* jobs.failPermanent(run.id, ["running"], end, yield* failedProof(run.doc_id))
        else {
          const attempt = route === "temp_failed" ? run.attempt : run.attempt + 1
          yield* jobs.endWithFollowUp(run.id, "running", route === "temp_failed" ? "temp_failed" : "failed_retrying", end, { state: "waiting_cooldown", attempt, scheduledRunAt: past, notes: null })
        }
        return
      }
      case "withdraw":
        yield* jobs.withdraw(op.doc)
        return
      case "kill": {
        const newest = yield* jobs.newestForDoc(op.doc)
        if (Option.isSome(newest) && isActive(newest.value.state)) {
          yield* jobs.failPermanent(newest.value.id, ACTIVE_STATES, { exitCode: null, errorMessage: "Killed" }, yield* failedProof(op.doc))
        }
        return
      }
    }
  })

const invariantsHold = (rows: ReadonlyArray<JobRun>) => {
  for (const doc of DOCS) {
    const active = rows.filter((r) => r.doc_id === doc && isActive(r.state))
    expect(active.length, `active rows for ${doc}`).toBeLessThanOrEqual(1)
  }
  for (const row of rows) {
    expect(Schema.is(JobState)(row.state)).toBe(true)
    expect(row.attempt).toBeGreaterThanOrEqual(1)
    expect(row.attempt).toBeLessThanOrEqual(tunables.MAX_RETRIES)
    expect(Object.keys(TRANSITIONS)).toContain(row.state)
  }
}

describe("state machine properties", () => {
  it("random operation sequences keep one active row per document, attempts within MAX_RETRIES, legal states", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) =>
        Effect.runPromise(
          Effect.gen(function* () {
            for (const op of ops) {
              yield* apply(op)
              invariantsHold(yield* (yield* JobStore).all)
            }
          }).pipe(Effect.provide(freshStore()), Effect.scoped)
        )
      ),
      { numRuns: 60 }
    )
  })
})
