/**
 * What a running row says about who follows its pipeline (ui/src/data/following.ts):
 * the wording operators read in the jobs table and the drawer, and when a row
 * is flagged as not followed (never in its first ten seconds, never when the
 * executor did not answer).
 */
import { describe, expect, it } from "vitest"
import type { LiveRunsReport } from "../../schemas/control.ts"
import type { JobRun } from "../../schemas/job.ts"
import { followingOf } from "../../ui/src/data/following.ts"

const row = (over: Partial<JobRun> = {}): JobRun => ({
  id: 7,
  doc_id: "doc-7",
  service: "Epi-Insight",
  patient_id: "P-1",
  patient_name: null,
  collection_date: null,
  state: "running",
  attempt: 1,
  scheduled_run_at: "2026-01-01T10:00:00.000Z",
  started_at: "2026-01-01T10:00:00.000Z",
  finished_at: null,
  exit_code: null,
  error_message: null,
  notes: null,
  created_at: "2026-01-01T10:00:00.000Z",
  updated_at: "2026-01-01T10:00:00.000Z",
  external_id: null,
  ...over
})

const report = (over: Partial<LiveRunsReport> = {}): LiveRunsReport => ({
  executor: "host",
  available: true,
  checkedAt: "2026-01-01T10:01:00.000Z",
  runs: [],
  ...over
})

describe("followingOf", () => {
  it("a run the execution host lists: followed, with the pipeline's pid", () => {
    const r = report({ runs: [{ runId: 7, docId: "doc-7", pid: 4242, startedAt: "2026-01-01T10:00:00.000Z" }] })
    expect(followingOf(r, row())).toEqual({ kind: "followed", text: "followed by the execution host (pid 4242)" })
  })

  it("a Slurm job: its id and the scheduler's state", () => {
    const r = report({
      executor: "slurm",
      runs: [{ runId: 7, docId: "doc-7", externalId: "123", externalState: "PENDING", startedAt: "2026-01-01T10:00:00.000Z" }]
    })
    expect(followingOf(r, row())).toEqual({ kind: "followed", text: "Slurm job 123 · PENDING" })
  })

  it("a running row the executor does not list is flagged once it has run ten seconds", () => {
    expect(followingOf(report(), row())).toEqual({ kind: "missing", text: "not followed by the execution host" })
    expect(followingOf(report({ executor: "slurm" }), row())).toEqual({ kind: "missing", text: "not followed by the Slurm executor" })
    // Asked 9 s after it started: the executor may not have it yet.
    expect(followingOf(report({ checkedAt: "2026-01-01T10:00:09.000Z" }), row())).toBeUndefined()
    // Started after the question: nothing to say.
    expect(followingOf(report(), row({ started_at: "2026-01-01T10:02:00.000Z" }))).toBeUndefined()
    expect(followingOf(report(), row({ started_at: null }))).toBeUndefined()
  })

  it("an executor that did not answer: not known, never flagged", () => {
    const r = report({ available: false, message: "execution host: not connected" })
    expect(followingOf(r, row())).toEqual({
      kind: "unknown",
      text: "Not known whether the execution host follows it: execution host: not connected"
    })
  })

  it("rows that are not running, or no answer yet: nothing", () => {
    expect(followingOf(report(), row({ state: "succeeded" }))).toBeUndefined()
    expect(followingOf(report(), row({ state: "queued" }))).toBeUndefined()
    expect(followingOf(undefined, row())).toBeUndefined()
  })
})
