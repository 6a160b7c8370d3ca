/**
 * Jobs the scheduler ends, against the real single-node Slurm (22.05) of
 * cluster.ts: each is an attempt failure with a clear error_message, whatever
 * code the pipeline's process died with (states.ts, precedence 1).
 *
 * - TIMEOUT: a one-minute time limit on a pipeline that never ends. Slurm
 *   checks limits about every 30 s and then gives KillWait (5 s), so this
 *   test takes 1-2 minutes.
 * - NODE_FAIL: the node is set DOWN under a running job (`scontrol update
 *   nodename=localhost state=down`); jobs are submitted `--no-requeue`, so
 *   Slurm ends it as NODE_FAIL instead of running it again.
 * - OUT_OF_MEMORY needs a memory cgroup to enforce `--mem`; this cluster runs
 *   with task/none and no cgroups (the only setup known to work in these
 *   containers), so OUT_OF_MEMORY stays covered by states.test.ts alone.
 */
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { SlurmCluster } from "./cluster.ts"
import { eventually, executorOptions, jobState, makeSpec, openExecutor, pidAlive, readText, run, type World, startClusterAndWorld } from "./support.ts"

let cluster: SlurmCluster
let world: World

beforeAll(async () => {
  ;({ cluster, world } = await startClusterAndWorld())
}, 180_000)

afterAll(async () => {
  await cluster?.stop()
  world?.cleanup()
}, 60_000)

describe("Slurm ends the job: routed as an attempt failure with the scheduler's reason", () => {
  it("TIMEOUT: a pipeline past its one-minute time limit", async () => {
    const options = executorOptions(cluster, world)
    const oneMinute = { cpus: 1, memoryMiB: 64, timeLimitMinutes: 1 }
    const { executor, close } = await openExecutor({
      ...options,
      slurm: { ...options.slurm, services: { ...options.slurm.services, "Epi-Insight": oneMinute } }
    })
    try {
      const pidFile = join(world.root, `pids-timeout-${Date.now()}`)
      // Waits for ever: only the time limit ends it.
      const spec = makeSpec(world, { LOMI_TEST_CHILDREN: "1", LOMI_TEST_PIDS: pidFile })
      const started = await run(executor.start(spec))
      const jobId = started._tag === "Running" ? (started.externalId ?? "") : ""
      await eventually("the pipeline started", () => readText(pidFile).trim().split("\n").length === 2, 60_000)
      const t0 = Date.now()
      const ended = await run(executor.awaitExit(spec.runId))
      expect(ended).toMatchObject({
        _tag: "Exited",
        exit: { errorMessage: `Slurm job ${jobId} reached its time limit (TIMEOUT)` }
      })
      expect(Date.now() - t0).toBeLessThan(150_000)
      expect(readText(pidFile).trim().split("\n").map(Number).filter(pidAlive)).toEqual([])
    } finally {
      await close()
    }
  }, 240_000)

  it("NODE_FAIL: the node set DOWN under a running job", async () => {
    const { executor, close } = await openExecutor(executorOptions(cluster, world))
    try {
      const pidFile = join(world.root, `pids-nodefail-${Date.now()}`)
      const spec = makeSpec(world, { LOMI_TEST_CHILDREN: "1", LOMI_TEST_PIDS: pidFile })
      const started = await run(executor.start(spec))
      const jobId = started._tag === "Running" ? (started.externalId ?? "") : ""
      await eventually("the pipeline started", () => readText(pidFile).trim().split("\n").length === 2, 60_000)
      const down = await cluster.client("scontrol", ["update", "nodename=localhost", "state=down", "reason=test"])
      expect(down.code).toBe(0)
      const ended = await run(executor.awaitExit(spec.runId))
      expect(ended).toMatchObject({
        _tag: "Exited",
        exit: { errorMessage: `Slurm job ${jobId} failed with its compute node (NODE_FAIL)` }
      })
      // Not requeued behind the allocator's back.
      expect(await jobState(cluster, jobId)).not.toBe("PENDING")
    } finally {
      await cluster.client("scontrol", ["update", "nodename=localhost", "state=resume"])
      await close()
    }
  }, 180_000)
})
