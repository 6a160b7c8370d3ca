/**
 * "Which pipelines are followed" with the Slurm executor: a whole allocator
 * (executor.kind = "slurm", the app's slurmExecutorLayer) serving the
 * dashboard API in process, against the real single-node Slurm. A running
 * attempt's Slurm job is listed by GET /api/live-runs with its job id and
 * the scheduler's state: PENDING while it is held, RUNNING once released,
 * and it leaves the list once it ended.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { HttpServer } from "@effect/platform"
import { Context, Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SESSION_COOKIE } from "../../schemas/api.ts"
import type { StaticConfig } from "../../schemas/config.ts"
import type { LiveRunsReport } from "../../schemas/control.ts"
import { AppConfig } from "../../kernel/config.ts"
import { EventBus } from "../../kernel/events.ts"
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import { hashPassword, httpLayer } from "../../kernel/http/server.ts"
import { databaseFile } from "../../kernel/paths.ts"
import { slurmExecutorLayer } from "../../kernel/process/slurm/layer.ts"
import { allocatorLayer } from "../../kernel/runtime.ts"
import type { JobStore } from "../../kernel/store/jobs.ts"
import { dataReady, integrationConfig, memoryPorts, quiet, waitForRows, waitForState } from "../integration/support.ts"
import type { SlurmCluster } from "./cluster.ts"
import { pipelineScript, slurmConfig, type World, startClusterAndWorld } from "./support.ts"

let cluster: SlurmCluster
let world: World

beforeAll(async () => {
  ;({ cluster, world } = await startClusterAndWorld())
}, 180_000)

afterAll(async () => {
  await cluster?.stop()
  world?.cleanup()
}, 60_000)

const VIEWER = { name: "vera", password: "viewer-password-1" }

/** Jobs are submitted held (`--hold`): PENDING until the test releases them. The pipeline waits for `release`. */
const configFor = (release: string, passwordHash: string): StaticConfig => {
  const base = integrationConfig({ root: world.root, script: pipelineScript, ctl: join(world.root, "ctl") })
  return {
    ...base,
    services: { ...base.services, "Epi-Insight": { script: pipelineScript, env: { LOMI_TEST_WAIT_FILE: release } } },
    paths: { ...base.paths, patientBaseDir: world.base, userDataDir: world.user },
    executor: { ...slurmConfig(cluster, { sbatchOptions: ["--hold"] }), runner: world.runner },
    http: { host: "127.0.0.1", port: 0, users: [{ name: VIEWER.name, role: "viewer", passwordHash }] }
  }
}

const liveRuns = (base: string, cookie: string) =>
  Effect.promise(async () => {
    const response = await fetch(`${base}/api/live-runs`, { headers: { cookie: `${SESSION_COOKIE}=${cookie}` } })
    expect(response.status).toBe(200)
    return (await response.json()) as LiveRunsReport
  })

/** Polls the endpoint until `check` holds; fails with the last answer. */
const waitLive = (base: string, cookie: string, what: string, check: (r: LiveRunsReport) => boolean) =>
  Effect.gen(function* () {
    const deadline = Date.now() + 120_000
    let last: LiveRunsReport | undefined
    while (Date.now() < deadline) {
      last = yield* liveRuns(base, cookie)
      if (check(last)) return last
      yield* Effect.sleep("200 millis")
    }
    return yield* Effect.dieMessage(`${what} not seen within 120 s; last: ${JSON.stringify(last)}`)
  })

describe("followed pipelines on Slurm", () => {
  it("GET /api/live-runs shows the attempt's Slurm job PENDING while held, RUNNING once released, and drops it when it ended", async () => {
    const release = join(world.root, `release-live-${Date.now()}`)
    const passwordHash = await Effect.runPromise(hashPassword(VIEWER.password))
    const config = configFor(release, passwordHash)
    await Effect.runPromise(
      quiet(
        Effect.scoped(
          Effect.gen(function* () {
            if (config.executor?.kind !== "slurm") return yield* Effect.dieMessage("not a Slurm config")
            const outside = Layer.mergeAll(memoryPorts(), Layer.succeed(AppConfig, config)).pipe(Layer.provideMerge(EventBus.Default))
            const app = yield* Layer.build(
              httpLayer(config).pipe(
                Layer.provideMerge(allocatorLayer(databaseFile(config.dataDir), slurmExecutorLayer(config, config.executor))),
                Layer.provideMerge(outside)
              )
            )
            const address = Context.get(app, HttpServer.HttpServer).address
            const base = `http://127.0.0.1:${address._tag === "TcpAddress" ? address.port : 0}`
            const signIn = yield* Effect.promise(() =>
              fetch(`${base}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(VIEWER) })
            )
            const cookie = new RegExp(`${SESSION_COOKIE}=([^;]*)`).exec(signIn.headers.get("set-cookie") ?? "")?.[1] ?? ""
            expect(cookie).not.toBe("")

            const inApp = <A, E>(effect: Effect.Effect<A, E, MemoryFirestore | JobStore>) =>
              Effect.provide(effect, app)
            yield* inApp(Effect.flatMap(MemoryFirestore, (fs) => fs.setReport("slurm-live", dataReady("Epi-Insight", "P-LIVE"))))
            const rows = yield* inApp(
              waitForRows("slurm-live", "running with its Slurm job id", (r) => r.at(-1)?.state === "running" && typeof r.at(-1)?.external_id === "string", {
                timeoutMs: 150_000
              })
            )
            const row = rows.at(-1)
            const jobId = row?.external_id ?? ""

            const pending = yield* waitLive(base, cookie, "the job PENDING", (r) =>
              r.runs.some((x) => x.runId === row?.id && x.externalState === "PENDING")
            )
            expect(pending).toMatchObject({ executor: "slurm", available: true })
            expect(pending.runs.find((x) => x.runId === row?.id)).toMatchObject({ docId: "slurm-live", externalId: jobId, externalState: "PENDING" })

            const released = yield* Effect.promise(() => cluster.client("scontrol", ["release", jobId]))
            expect(released.code).toBe(0)
            const running = yield* waitLive(base, cookie, "the job RUNNING", (r) =>
              r.runs.some((x) => x.runId === row?.id && x.externalState === "RUNNING")
            )
            expect(running.runs.find((x) => x.runId === row?.id)).toMatchObject({ externalId: jobId, externalState: "RUNNING" })

            writeFileSync(release, "")
            yield* inApp(waitForState("slurm-live", "succeeded", { timeoutMs: 150_000 }))
            const after = yield* liveRuns(base, cookie)
            expect(after.runs.some((x) => x.runId === row?.id)).toBe(false)
          })
        )
      )
    )
  }, 400_000)
})
