/**
 * A whole allocator (allocatorLayer: listener, dispatcher, workers, recovery)
 * whose Executor is the Slurm executor as the app selects it
 * (`executor.kind = "slurm"`, slurmExecutorLayer), on the in-memory Firestore,
 * against a real single-node Slurm. Sandbox on (the default tunable).
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { StaticConfig } from "../../schemas/config.ts"
import { AppConfig } from "../../kernel/config.ts"
import { EventBus } from "../../kernel/events.ts"
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import { databaseFile, runLogFile } from "../../kernel/paths.ts"
import { slurmExecutorLayer } from "../../kernel/process/slurm/layer.ts"
import { JobStore } from "../../kernel/store/jobs.ts"
import { allocatorLayer } from "../../kernel/runtime.ts"
import { dataReady, integrationConfig, memoryPorts, quiet, waitForRows, waitForState } from "../integration/support.ts"
import type { SlurmCluster } from "./cluster.ts"
import { jobState, pipelineScript, readText, slurmConfig, type World, startClusterAndWorld } from "./support.ts"

let cluster: SlurmCluster
let world: World

beforeAll(async () => {
  ;({ cluster, world } = await startClusterAndWorld())
}, 180_000)

afterAll(async () => {
  await cluster?.stop()
  world?.cleanup()
}, 60_000)

/** Epi-Insight pipelines exit 0, Omni-Health ones exit 3. */
const configFor = (): StaticConfig => {
  const base = integrationConfig({ root: world.root, script: pipelineScript, ctl: join(world.root, "ctl") })
  const slurm = { ...slurmConfig(cluster), runner: world.runner }
  return {
    ...base,
    services: {
      ...base.services,
      "Epi-Insight": { script: pipelineScript, env: { LOMI_TEST_EXIT: "0" } },
      "Omni-Health": { script: pipelineScript, env: { LOMI_TEST_EXIT: "3" } }
    },
    paths: { ...base.paths, patientBaseDir: world.base, userDataDir: world.user },
    executor: slurm
  }
}

const startAllocator = (config: StaticConfig) =>
  Effect.gen(function* () {
    if (config.executor?.kind !== "slurm") return yield* Effect.dieMessage("not a Slurm config")
    const world = yield* Layer.build(
      Layer.mergeAll(memoryPorts(), Layer.succeed(AppConfig, config)).pipe(Layer.provideMerge(EventBus.Default))
    )
    const allocator = yield* Layer.build(
      allocatorLayer(databaseFile(config.dataDir), slurmExecutorLayer(config, config.executor)).pipe(
        Layer.provide(Layer.succeedContext(world))
      )
    )
    return Context.merge(world, allocator)
  })

const scenario = <A, E>(body: (config: StaticConfig) => Effect.Effect<A, E, Scope.Scope | MemoryFirestore | JobStore>) =>
  Effect.runPromise(
    quiet(
      Effect.scoped(
        Effect.gen(function* () {
          const config = configFor()
          const context = yield* startAllocator(config)
          return yield* Effect.provide(body(config), context)
        })
      )
    )
  )

describe("allocator on Slurm", { timeout: 180_000 }, () => {
  it("a Data Ready report runs as a Slurm job: succeeded, its job id on the row, its log in run.log.1", async () => {
    const row = await scenario((config) =>
      Effect.gen(function* () {
        yield* Effect.flatMap(MemoryFirestore, (fs) => fs.setReport("slurm-ok", dataReady("Epi-Insight", "P-OK")))
        const done = yield* waitForState("slurm-ok", "succeeded", { timeoutMs: 150_000 })
        return { done, log: readText(runLogFile(config.dataDir, "slurm-ok", done.id, 1)) }
      })
    )
    expect(row.done).toMatchObject({ state: "succeeded", attempt: 1, exit_code: 0 })
    expect(row.done.external_id).toMatch(/^\d+$/)
    expect(row.log).toContain(`pipeline slurm-ok patient P-OK service Epi-Insight`)
    expect(row.log).toContain(`job ${row.done.external_id}`)
  })

  it("a failing pipeline's exit code is routed by rule 5: failed_retrying, then attempt 2 waits", async () => {
    const rows = await scenario(() =>
      Effect.gen(function* () {
        yield* Effect.flatMap(MemoryFirestore, (fs) => fs.setReport("slurm-fail", dataReady("Omni-Health", "P-FAIL")))
        yield* waitForState("slurm-fail", "waiting_cooldown", { timeoutMs: 150_000 })
        return yield* (yield* JobStore).rowsForDoc("slurm-fail")
      })
    )
    expect(rows.map((r) => [r.state, r.attempt, r.exit_code])).toEqual([
      ["failed_retrying", 1, 3],
      ["waiting_cooldown", 2, null]
    ])
    expect(rows[0]?.external_id).toMatch(/^\d+$/)
  })
})

/** How many times the pipeline started, from its log. */
const starts = (logFile: string) => readText(logFile).split("\n").filter((l) => l.startsWith("pipeline slurm-adopt patient")).length

describe("allocator on Slurm: restart (rule 10)", { timeout: 240_000 }, () => {
  it("the allocator goes away while its job runs; the next one re-adopts the job (same row, run once, attempt 1)", async () => {
    const release = join(world.root, `release-allocator-${Date.now()}`)
    const base = configFor()
    const config: StaticConfig = {
      ...base,
      services: { ...base.services, "Gen-Decoder": { script: pipelineScript, env: { LOMI_TEST_WAIT_FILE: release } } }
    }
    // The outside world (Firestore, mail) outlives each allocator: built once, in its own scope.
    const outsideScope = await Effect.runPromise(Scope.make())
    const outside = await Effect.runPromise(
      Scope.extend(
        Layer.build(Layer.mergeAll(memoryPorts(), Layer.succeed(AppConfig, config)).pipe(Layer.provideMerge(EventBus.Default))),
        outsideScope
      )
    )
    const withAllocator = <A, E>(body: Effect.Effect<A, E, Scope.Scope | MemoryFirestore | JobStore>) =>
      Effect.runPromise(
        quiet(
          Effect.scoped(
            Effect.gen(function* () {
              if (config.executor?.kind !== "slurm") return yield* Effect.dieMessage("not a Slurm config")
              const allocator = yield* Layer.build(
                allocatorLayer(databaseFile(config.dataDir), slurmExecutorLayer(config, config.executor)).pipe(
                  Layer.provide(Layer.succeedContext(outside))
                )
              )
              return yield* Effect.provide(body, Context.merge(outside, allocator))
            })
          )
        )
      )
    try {
      const first = await withAllocator(
        Effect.gen(function* () {
          yield* Effect.flatMap(MemoryFirestore, (fs) =>
            fs.setReport("slurm-adopt", dataReady("Gen-Decoder", "P-ADOPT", { manualHoldRelease: true }))
          )
          yield* waitForState("slurm-adopt", "running", { timeoutMs: 150_000 })
          // The pipeline has started on the node (its first line is in the log), and the row has its job id.
          return yield* waitForRows(
            "slurm-adopt",
            "job started with its id on the row",
            (rows) => {
              const row = rows.at(-1)
              return row !== undefined && typeof row.external_id === "string" && starts(runLogFile(config.dataDir, "slurm-adopt", row.id, 1)) === 1
            },
            { timeoutMs: 150_000 }
          ).pipe(Effect.map((rows) => rows.at(-1)))
        })
      )
      // The first allocator is gone (its scope closed); the job was not touched.
      const jobId = first?.external_id ?? ""
      expect(await jobState(cluster, jobId)).toBe("RUNNING")
      const second = await withAllocator(
        Effect.gen(function* () {
          writeFileSync(release, "")
          yield* waitForState("slurm-adopt", "succeeded", { timeoutMs: 150_000 })
          return yield* (yield* JobStore).rowsForDoc("slurm-adopt")
        })
      )
      expect(second.map((r) => [r.id, r.state, r.attempt, r.exit_code, r.external_id])).toEqual([[first?.id, "succeeded", 1, 0, jobId]])
      // Run once: one start in the attempt's log (the sandbox lets a pipeline write nowhere else).
      expect(starts(runLogFile(config.dataDir, "slurm-adopt", first?.id ?? 0, 1))).toBe(1)
    } finally {
      await Effect.runPromise(Scope.close(outsideScope, Exit.void))
    }
  })
})
