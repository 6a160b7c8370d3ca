/**
 * GET /api/live-runs in the allocator's own process: what the executor (here
 * the replay's simulated host) follows right now, a viewer may read; a run
 * that ended is no longer listed; an executor that does not answer gives
 * `available: false` with its reason, never an error page.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SimHost } from "../../kernel/replay/simHost.ts"
import { anonymous, arrive, eventually, exitAfter, hang, lastOf, serverLayer, signIn, waitRuns } from "./support.ts"

interface Report {
  readonly executor: string
  readonly available: boolean
  readonly message?: string
  readonly checkedAt: string
  readonly runs: ReadonlyArray<{ readonly runId: number; readonly docId: string; readonly startedAt: string }>
}

layer(serverLayer(), { excludeTestServices: true })("GET /api/live-runs", (it) => {
  it.effect("lists the running attempt the executor follows, and drops it once it ended", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const admin = yield* signIn("admin")
      expect((yield* admin.put("/api/tunables", { values: { KILL_GRACE_MS: 0 } })).status).toBe(200)
      // One after the other: the test config has one worker, and a hanging run holds it.
      yield* arrive("lr-done", "Epi-Insight", "P-9002", [exitAfter(0, 30)])
      yield* waitRuns(admin, "lr-done", (runs) => lastOf(runs)?.state === "succeeded")
      yield* arrive("lr-hang", "Epi-Insight", "P-9001", [hang])
      const running = yield* waitRuns(admin, "lr-hang", (runs) => lastOf(runs)?.state === "running")
      const run = lastOf(running)
      if (run === undefined) return yield* Effect.dieMessage("no run")

      const reply = yield* viewer.get("/api/live-runs")
      expect(reply.status).toBe(200)
      const report = reply.body as Report
      expect(report.executor).toBe("host")
      expect(report.available).toBe(true)
      expect(report.message).toBeUndefined()
      expect(Number.isNaN(Date.parse(report.checkedAt))).toBe(false)
      expect(report.runs.map((r) => [r.runId, r.docId])).toEqual([[run.id, "lr-hang"]])

      // Killed: it ends, and the executor no longer follows it.
      expect((yield* admin.post(`/api/runs/${run.id}/kill`)).status).toBe(200)
      yield* waitRuns(admin, "lr-hang", (runs) => lastOf(runs)?.state !== "running")
      const after = yield* eventually(viewer.get("/api/live-runs"), (r) => ((r.body as Report).runs.length === 0 ? r : undefined))
      expect((after.body as Report).available).toBe(true)
    })
  )

  it.effect("an executor that does not answer is an answer too: available false, with its reason", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const sim = yield* SimHost
      yield* sim.setUnavailable(true)
      const reply = yield* viewer.get("/api/live-runs").pipe(Effect.ensuring(sim.setUnavailable(false)))
      expect(reply.status).toBe(200)
      expect(reply.body).toMatchObject({
        executor: "host",
        available: false,
        message: "the execution host does not answer (simulated)",
        runs: []
      })
    })
  )

  it.effect("needs a session", () =>
    Effect.gen(function* () {
      const nobody = yield* anonymous
      expect((yield* nobody.get("/api/live-runs")).status).toBe(401)
    })
  )
})
