/**
 * The Slurm executor against a real single-node Slurm (slurmctld + slurmd +
 * munged started by the harness in its own network namespace). The executor
 * is driven directly, as the kernel's workers and recovery drive it through
 * the Executor tag.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Duration, Effect, Either } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runDir } from "../../kernel/process/slurm/records.ts"
import { type SlurmCluster, startSlurmCluster } from "./cluster.ts"
import { buildRunner } from "./runner-build.ts"
import {
  eventually,
  executorOptions,
  jobState,
  makeSpec,
  makeWorld,
  openExecutor,
  pidAlive,
  readText,
  run,
  type World
} from "./support.ts"

let cluster: SlurmCluster
let world: World
let allocatorArgv: ReadonlyArray<string> = []

beforeAll(async () => {
  const out = mkdtempSync(join(tmpdir(), "lomi-runner-"))
  const [started, runner, child] = await Promise.all([
    startSlurmCluster(),
    buildRunner("kernel/process/slurm/run-attempt.ts", out),
    buildRunner("test/slurm/allocator-child.ts", out)
  ])
  cluster = started
  world = makeWorld(runner)
  allocatorArgv = child
}, 180_000)

afterAll(async () => {
  await cluster?.stop()
  world?.cleanup()
}, 60_000)

describe("Slurm executor: outcomes", { timeout: 180_000 }, () => {
  for (const [label, code] of [["success", 0], ["failure exit code", 3], ["temp-fail code", 75]] as const) {
    it(`routes ${label} (${code}) by the pipeline's own exit code`, async () => {
      const { executor, close } = await openExecutor(executorOptions(cluster, world))
      try {
        const spec = makeSpec(world, { LOMI_TEST_EXIT: String(code) })
        const started = await run(executor.start(spec))
        expect(started._tag).toBe("Running")
        const jobId = started._tag === "Running" ? started.externalId : undefined
        expect(jobId).toMatch(/^\d+$/)
        // The job carries run id and document id in its name, and logs into the attempt's own file.
        const named = await cluster.client("squeue", ["-h", "-t", "all", `--jobs=${jobId}`, "-o", "%j"])
        expect(named.stdout.trim()).toBe(`lomi-${spec.runId}-${spec.docId}`)
        const ended = await run(executor.awaitExit(spec.runId))
        expect(ended).toEqual({ _tag: "Exited", exit: { code, signal: null } })
        const log = readText(spec.logFile)
        expect(log).toContain(`pipeline ${spec.docId} patient P-1 service Epi-Insight`)
        expect(log).toContain(`job ${jobId}`)
        expect(log).toContain(`pipeline ${spec.docId} exits ${code}`)
        // Recorded until acknowledged, then forgotten.
        const before = await run(executor.status([spec.runId]))
        expect(before.get(spec.runId)).toEqual({ _tag: "Exited", exit: { code, signal: null } })
        await run(executor.acknowledge(spec.runId))
        const after = await run(executor.status([spec.runId]))
        expect(after.get(spec.runId)).toEqual({ _tag: "Unknown" })
      } finally {
        await close()
      }
    })
  }

  it("a refused submission (unknown partition) is a SpawnError naming sbatch's reason, and leaves no record", async () => {
    const options = executorOptions(cluster, world)
    const { executor, close } = await openExecutor({ ...options, slurm: { ...options.slurm, partition: "no-such-partition" } })
    try {
      const spec = makeSpec(world)
      const result = await run(Effect.either(executor.start(spec)))
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left._tag).toBe("SpawnError")
        expect(result.left.message).toMatch(/^sbatch exited 1: .*(invalid partition|Invalid partition)/i)
      }
      expect(existsSync(runDir(world.stateDir, spec.runId))).toBe(false)
      expect((await run(executor.status([spec.runId]))).get(spec.runId)).toEqual({ _tag: "Unknown" })
    } finally {
      await close()
    }
  })

  it("shows followed jobs with their Slurm id and state", async () => {
    const { executor, close } = await openExecutor(executorOptions(cluster, world))
    const release = join(world.root, `release-live-${Date.now()}`)
    try {
      const spec = makeSpec(world, { LOMI_TEST_WAIT_FILE: release })
      const started = await run(executor.start(spec))
      const jobId = started._tag === "Running" ? started.externalId : "none"
      await eventually("job RUNNING in the executor's live view", async () => {
        const live = await run(executor.live)
        return live.some((r) => r.runId === spec.runId && r.externalId === jobId && r.externalState === "RUNNING")
      })
      writeFileSync(release, "")
      expect(await run(executor.awaitExit(spec.runId))).toEqual({ _tag: "Exited", exit: { code: 0, signal: null } })
      expect((await run(executor.live)).some((r) => r.runId === spec.runId)).toBe(false)
    } finally {
      await close()
    }
  })
})

describe("Slurm executor: kill", { timeout: 180_000 }, () => {
  it("scancel with a grace ends the pipeline and every child it started", async () => {
    const { executor, close } = await openExecutor(executorOptions(cluster, world))
    try {
      const pidFile = join(world.root, `pids-${Date.now()}`)
      const spec = makeSpec(world, { LOMI_TEST_CHILDREN: "3", LOMI_TEST_PIDS: pidFile })
      const started = await run(executor.start(spec))
      const jobId = started._tag === "Running" ? started.externalId ?? "" : ""
      await eventually("the pipeline and its 3 children started", () => readText(pidFile).trim().split("\n").length === 4)
      const pids = readText(pidFile).trim().split("\n").map(Number)
      expect(pids.every(pidAlive)).toBe(true)
      await run(executor.kill(spec.runId, Duration.seconds(2)))
      // kill resolves once Slurm no longer holds the job: nothing of it is left.
      expect(pids.filter(pidAlive)).toEqual([])
      const state = await jobState(cluster, jobId)
      expect(state === undefined || !["PENDING", "RUNNING", "COMPLETING"].includes(state)).toBe(true)
      const ended = await run(executor.awaitExit(spec.runId))
      expect(ended._tag).toBe("Exited")
      if (ended._tag === "Exited") expect(ended.exit.code).not.toBe(0)
    } finally {
      await close()
    }
  })

  it("killing a job still PENDING cancels it before it ever runs", async () => {
    const options = executorOptions(cluster, world)
    // --hold keeps it PENDING until released.
    const { executor, close } = await openExecutor({ ...options, slurm: { ...options.slurm, sbatchOptions: ["--hold"] } })
    try {
      const runs = join(world.root, `runs-pending-${Date.now()}`)
      const spec = makeSpec(world, { LOMI_TEST_RUNS: runs })
      const started = await run(executor.start(spec))
      const jobId = started._tag === "Running" ? started.externalId ?? "" : ""
      expect(await jobState(cluster, jobId)).toBe("PENDING")
      await run(executor.kill(spec.runId, Duration.seconds(1)))
      expect(await jobState(cluster, jobId)).toBe("CANCELLED")
      const ended = await run(executor.awaitExit(spec.runId))
      expect(ended).toEqual({
        _tag: "Exited",
        exit: { code: null, signal: null, errorMessage: `Slurm job ${jobId} was cancelled in Slurm (CANCELLED)` }
      })
      expect(readText(runs)).toBe("")
    } finally {
      await close()
    }
  })
})

/** An allocator in a child process, so it can be SIGKILLed while its job runs. */
const allocatorChild = (specJson: string, optionsJson: string) =>
  spawn(allocatorArgv[0] ?? "node", [...allocatorArgv.slice(1), specJson, optionsJson], { stdio: ["ignore", "pipe", "inherit"] })

describe("Slurm executor: recovery (rule 10)", { timeout: 180_000 }, () => {
  it("allocator SIGKILLed while its job runs: the job is re-adopted by the next allocator, not re-run", async () => {
    const release = join(world.root, `release-adopt-${Date.now()}`)
    const runs = join(world.root, `runs-adopt-${Date.now()}`)
    const spec = makeSpec(world, { LOMI_TEST_WAIT_FILE: release, LOMI_TEST_RUNS: runs, LOMI_TEST_EXIT: "0" })
    const child = allocatorChild(JSON.stringify(spec), JSON.stringify(executorOptions(cluster, world)))
    let printed = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (printed += d))
    await eventually("the child allocator submitted the job", () => /^job \d+$/m.test(printed), 60_000)
    const jobId = /^job (\d+)$/m.exec(printed)?.[1] ?? ""
    await eventually("the pipeline started", () => readText(runs).includes("start"))
    const dead = new Promise((r) => child.once("exit", r))
    child.kill("SIGKILL")
    await dead
    expect(await jobState(cluster, jobId)).toBe("RUNNING")

    const { executor, close } = await openExecutor(executorOptions(cluster, world))
    try {
      const found = await run(executor.status([spec.runId]))
      expect(found.get(spec.runId)).toEqual({ _tag: "Running", externalId: jobId })
      const waiting = run(executor.awaitExit(spec.runId))
      writeFileSync(release, "")
      expect(await waiting).toEqual({ _tag: "Exited", exit: { code: 0, signal: null } })
      expect(readText(runs).trim().split("\n")).toEqual([`start ${spec.docId}`])
    } finally {
      await close()
    }
  }, 120_000)

  it("a job that finished while the allocator was down is routed by its real exit code after the controller forgot it", async () => {
    const release = join(world.root, `release-down-${Date.now()}`)
    const spec = makeSpec(world, { LOMI_TEST_WAIT_FILE: release, LOMI_TEST_EXIT: "3" })
    const first = await openExecutor(executorOptions(cluster, world))
    const started = await run(first.executor.start(spec))
    const jobId = started._tag === "Running" ? started.externalId ?? "" : ""
    await first.close() // the allocator is gone; the job is not
    writeFileSync(release, "")
    // MinJobAge=5: wait until the controller has no record of the job at all.
    await eventually("the controller forgot the job", async () => (await jobState(cluster, jobId)) === undefined, 60_000)

    const second = await openExecutor(executorOptions(cluster, world))
    try {
      const found = await run(second.executor.status([spec.runId]))
      expect(found.get(spec.runId)).toEqual({ _tag: "Exited", exit: { code: 3, signal: null } })
      expect(await run(second.executor.awaitExit(spec.runId))).toEqual({ _tag: "Exited", exit: { code: 3, signal: null } })
    } finally {
      await second.close()
    }
  }, 120_000)

  it("only a job Slurm does not know and that left no exit file is Lost; a run never submitted is Unknown", async () => {
    const { executor, close } = await openExecutor(executorOptions(cluster, world))
    try {
      const spec = makeSpec(world)
      // A record pointing at a job id the controller never had (a cluster reinstalled, say).
      const dir = runDir(world.stateDir, spec.runId)
      const started = await run(executor.start(makeSpec(world)))
      expect(started._tag).toBe("Running")
      const { mkdirSync } = await import("node:fs")
      mkdirSync(dir, { recursive: true })
      writeFileSync(join(dir, "job-id"), "999999\n")
      const never = makeSpec(world)
      const found = await run(executor.status([spec.runId, never.runId]))
      expect(found.get(spec.runId)).toEqual({
        _tag: "Lost",
        message: "Slurm job 999999 is unknown to the controller and left no exit status"
      })
      expect(found.get(never.runId)).toEqual({ _tag: "Unknown" })
    } finally {
      await close()
    }
  })
})

describe("Slurm executor: controller outage", { timeout: 180_000 }, () => {
  it("controller stopped mid-run: submission fails ExecutorUnavailable quickly, the running job's exit is still routed, submission resumes", async () => {
    const options = executorOptions(cluster, world)
    const { executor, close } = await openExecutor({ ...options, slurm: { ...options.slurm, commandTimeoutMs: 3000 } })
    try {
      const release = join(world.root, `release-outage-${Date.now()}`)
      const spec = makeSpec(world, { LOMI_TEST_WAIT_FILE: release, LOMI_TEST_EXIT: "75" })
      const started = await run(executor.start(spec))
      expect(started._tag).toBe("Running")
      await eventually("running", async () => (await run(executor.live)).some((r) => r.runId === spec.runId && r.externalState === "RUNNING"))

      await cluster.stopController()
      const blocked = makeSpec(world)
      const t0 = Date.now()
      const refused = await run(Effect.either(executor.start(blocked)))
      const tookMs = Date.now() - t0
      expect(Either.isLeft(refused) && refused.left._tag).toBe("ExecutorUnavailable")
      // Bounded by commandTimeoutMs (3 s here), not by the client's own minutes of retries.
      expect(tookMs).toBeLessThan(15_000)
      expect((await run(executor.controller)).ok).toBe(false)
      const statusDuringOutage = await run(Effect.either(executor.status([spec.runId])))
      expect(Either.isLeft(statusDuringOutage) && statusDuringOutage.left._tag).toBe("ExecutorUnavailable")

      // The job keeps running on its node and ends during the outage: its exit file routes it.
      writeFileSync(release, "")
      expect(await run(executor.awaitExit(spec.runId))).toEqual({ _tag: "Exited", exit: { code: 75, signal: null } })

      await cluster.startController()
      await eventually("controller healthy again", async () => {
        await run(Effect.either(executor.status([spec.runId])))
        return (await run(executor.controller)).ok
      }, 60_000)
      // The refused attempt was not burned: starting the same run now submits it once.
      const retried = await run(executor.start(blocked))
      expect(retried._tag).toBe("Running")
      expect(await run(executor.awaitExit(blocked.runId))).toEqual({ _tag: "Exited", exit: { code: 0, signal: null } })
      expect(readFileSync(blocked.logFile, "utf8").match(/exits 0/g)?.length).toBe(1)
    } finally {
      await close()
    }
  }, 180_000)
})

describe("Slurm executor: sandboxed on the node (SANDBOX_ENABLED=1)", { timeout: 180_000 }, () => {
  for (const [code, committed] of [[0, true], [3, false]] as const) {
    it(`exit ${code}: the run's change to the patient folder is ${committed ? "committed" : "discarded"}`, async () => {
      const { executor, close } = await openExecutor(executorOptions(cluster, world, { sandboxEnabled: true }))
      try {
        const patient = `P-SBX-${code}`
        const real = join(world.base, patient)
        const { mkdirSync } = await import("node:fs")
        mkdirSync(real, { recursive: true })
        writeFileSync(join(real, "input.txt"), "raw data\n")
        const spec = makeSpec(world, { LOMI_TEST_WRITE: "result.txt", LOMI_TEST_EXIT: String(code) }, { patientId: patient })
        await run(executor.start(spec))
        expect(await run(executor.awaitExit(spec.runId))).toMatchObject({ _tag: "Exited", exit: { code } })
        expect(existsSync(join(real, "result.txt"))).toBe(committed)
        if (committed) expect(readFileSync(join(real, "result.txt"), "utf8")).toBe(`written by ${spec.docId}\n`)
        expect(readFileSync(join(real, "input.txt"), "utf8")).toBe("raw data\n")
      } finally {
        await close()
      }
    })
  }
})
