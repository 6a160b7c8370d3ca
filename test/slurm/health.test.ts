/** The dashboard's Slurm health check against a real single-node cluster. */
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { checkSlurm } from "../../kernel/health/slurm.ts"
import { type SlurmCluster, startSlurmCluster } from "./cluster.ts"
import { slurmConfig } from "./support.ts"

let cluster: SlurmCluster

beforeAll(async () => {
  cluster = await startSlurmCluster()
}, 120_000)

afterAll(async () => {
  await cluster?.stop()
}, 60_000)

describe("Slurm health check", () => {
  it("is ok while the controller answers and the partition has an idle node", async () => {
    const result = await Effect.runPromise(checkSlurm(slurmConfig(cluster)))
    expect(result).toMatchObject({ name: "slurm", ok: true, detail: "controller up; partition lomi: 1 idle" })
  })

  it("names a partition that does not exist", async () => {
    const result = await Effect.runPromise(checkSlurm(slurmConfig(cluster, { partition: "gpu-nowhere" })))
    expect(result).toMatchObject({ name: "slurm", ok: false, detail: "Slurm partition gpu-nowhere not found" })
  })

  it("fails within the client timeout while the controller is down, and recovers", async () => {
    await cluster.stopController()
    try {
      const t0 = Date.now()
      const result = await Effect.runPromise(checkSlurm(slurmConfig(cluster, { commandTimeoutMs: 2000 })))
      expect(Date.now() - t0).toBeLessThan(8000)
      expect(result.ok).toBe(false)
      expect(result.detail).toMatch(/Slurm controller not answering|did not answer within 2000 ms|Unable to contact slurm controller/)
    } finally {
      await cluster.startController()
    }
    // The node re-registers with the restarted controller within a few seconds.
    const deadline = Date.now() + 60_000
    let back = await Effect.runPromise(checkSlurm(slurmConfig(cluster)))
    const seen = [back.detail]
    while (!back.ok && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250))
      back = await Effect.runPromise(checkSlurm(slurmConfig(cluster)))
      seen.push(back.detail)
    }
    expect(back, [...new Set(seen)].join(" / ")).toMatchObject({ ok: true, detail: "controller up; partition lomi: 1 idle" })
  }, 90_000)
})
