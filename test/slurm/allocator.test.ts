/**
 * A whole allocator (allocatorLayer: listener, dispatcher, workers, recovery)
 * whose Executor is the Slurm executor as the app selects it
 * (`executor.kind = "slurm"`, slurmExecutorLayer), on the in-memory Firestore,
 * against a real single-node Slurm. Sandbox on (the default tunable).
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer, type Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { StaticConfig } from "../../schemas/config.ts"
import { AppConfig } from "../../kernel/config.ts"
import { EventBus } from "../../kernel/events.ts"
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import { databaseFile, runLogFile } from "../../kernel/paths.ts"
import { slurmExecutorLayer } from "../../kernel/process/slurm/layer.ts"
import { JobStore } from "../../kernel/store/jobs.ts"
import { allocatorLayer } from "../../kernel/runtime.ts"
import { dataReady, integrationConfig, memoryPorts, quiet, waitForState } from "../integration/support.ts"
import { type SlurmCluster, startSlurmCluster } from "./cluster.ts"
import { buildRunner } from "./runner-build.ts"
import { makeWorld, pipelineScript, readText, slurmConfig, type World } from "./support.ts"

let cluster: SlurmCluster
let world: World

beforeAll(async () => {
  const [started, runner] = await Promise.all([
    startSlurmCluster(),
    buildRunner("kernel/process/slurm/run-attempt.ts", mkdtempSync(join(tmpdir(), "lomi-runner-")))
  ])
  cluster = started
  world = makeWorld(runner)
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
