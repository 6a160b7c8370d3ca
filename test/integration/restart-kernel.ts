/**
 * A kernel on the real execution host, for restart tests: the allocator
 * (SQLite under `<root>/data`, in-memory Firestore holding `<docId>` as a
 * Data Ready report) whose Executor is the host's client. The host is
 * started by the test and is never started from here.
 *
 * As a process: `node --import tsx test/integration/restart-kernel.ts <root> <docId> <configFile>`
 * prints `FOLLOWING <runId>` once the document's row is running and the host
 * follows its pipeline, then waits to be killed.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { join } from "node:path"
import { Context, Effect, Layer } from "effect"
import { AppConfig } from "../../kernel/config.ts"
import { EventBus } from "../../kernel/events.ts"
import { ExecHostExecutorLive } from "../../kernel/exechost/client.ts"
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import { databaseFile } from "../../kernel/paths.ts"
import { Executor } from "../../kernel/ports/executor.ts"
import { allocatorLayer, storeLayer } from "../../kernel/runtime.ts"
import { TunableStore } from "../../kernel/store/tunables.ts"
import { dataReady, eventually, FAST, integrationConfig, memoryPorts, quiet, type TestRoot, waitForState } from "./support.ts"

const seedTunables = (file: string) =>
  Effect.gen(function* () {
    const store = yield* TunableStore
    for (const [key, value] of Object.entries({ ...FAST, SANDBOX_ENABLED: 0, MAX_RETRIES: 3 })) {
      if (value !== undefined) yield* Effect.orDie(store.set(key, value, "test"))
    }
  }).pipe(Effect.provide(storeLayer(file).pipe(Layer.provide(EventBus.Default), Layer.orDie)), Effect.scoped)

/** Starts the kernel in the caller's scope; `run` provides its services. */
export const startKernel = (t: TestRoot, docId: string, configFile: string) =>
  Effect.gen(function* () {
    const config = integrationConfig(t)
    const file = databaseFile(config.dataDir)
    yield* seedTunables(file)
    const world = yield* Layer.build(
      Layer.mergeAll(memoryPorts(), Layer.succeed(AppConfig, config)).pipe(Layer.provideMerge(EventBus.Default))
    )
    const executor = ExecHostExecutorLive(config, false, { spawnHost: false, configFile, startupTimeout: "120 seconds" })
    const allocator = yield* Layer.build(allocatorLayer(file, executor).pipe(Layer.provide(Layer.succeedContext(world))))
    const context = Context.merge(world, allocator)
    const run = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, context) as Effect.Effect<A, E, never>
    yield* run(Effect.flatMap(MemoryFirestore, (fs) => fs.setReport(docId, dataReady("Epi-Insight"))))
    return { config, run }
  })

/** Waits until `docId`'s row is running and the host follows it; returns its id. */
export const following = (docId: string) =>
  Effect.gen(function* () {
    const row = yield* waitForState(docId, "running", { timeoutMs: 180_000 })
    const executor = yield* Executor
    yield* eventually(
      `run ${row.id} followed by the host`,
      Effect.map(Effect.orElseSucceed(executor.live, () => []), (live) => live.some((r) => r.runId === row.id)),
      { timeoutMs: 180_000 }
    )
    return row.id
  })

const [root, docId, configFile] = process.argv.slice(2)
if (root !== undefined && docId !== undefined && configFile !== undefined && process.argv[1]?.endsWith("restart-kernel.ts")) {
  const t: TestRoot = { root, script: join(root, "bin", "pipeline.sh"), ctl: join(root, "bin", "ctl") }
  // As kernel/main.ts: SIGTERM interrupts the program and runs every finalizer (an orderly stop).
  NodeRuntime.runMain(
    quiet(
      Effect.scoped(
        Effect.gen(function* () {
          const { run } = yield* startKernel(t, docId, configFile)
          const id = yield* run(following(docId))
          process.stdout.write(`FOLLOWING ${id}\n`)
          return yield* Effect.never
        })
      )
    )
  )
}
