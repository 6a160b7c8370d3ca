/**
 * A killed row's pipeline is stopped even when the stop was lost (found by
 * the kernel chaos run, test/chaos/kernel.chaos.test.ts): rule 9 ends the row
 * first and then stops the pipeline, so a stop that never reaches the
 * execution host would leave a pipeline that nothing follows (workers follow
 * `running` rows only) running forever.
 * - the host is down when the kill comes: the kill handler asks again until a host answers;
 * - the allocator dies between ending the row and the stop: start-up recovery stops it.
 * And an exit whose outcome the allocator stored but died before acknowledging
 * is acknowledged at start-up (else the host keeps its record for ever).
 */
import { describe, expect, it } from "@effect/vitest"
import { existsSync, readdirSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { Effect } from "effect"
import { ExecHostExecutorLive } from "../../kernel/exechost/client.ts"
import { databaseFile } from "../../kernel/paths.ts"
import { hostProcess, writeConfig } from "../exechost/support.ts"
import { following, startKernel } from "./restart-kernel.ts"
import {
  control,
  eventually,
  execute,
  FAST,
  integrationConfig,
  isLive,
  memoryPorts,
  quiet,
  rowsFor,
  startAllocator,
  tempRoot
} from "./support.ts"

interface RawDatabase {
  prepare(sql: string): { run(...params: ReadonlyArray<unknown>): unknown }
  close(): void
}
const Database = createRequire(import.meta.url)("better-sqlite3") as new (file: string) => RawDatabase

const setUp = Effect.gen(function* () {
  const t = yield* tempRoot
  const config = integrationConfig(t)
  const configFile = join(t.root, "config.json")
  yield* writeConfig(config, configFile)
  const host = yield* hostProcess(configFile, config.dataDir)
  return { t, config, configFile, host, ctl: control(t) }
})

describe("a killed row's pipeline is stopped even when its stop was lost", () => {
  it.scopedLive("the host is down when the kill comes: the pipeline is stopped once a host answers", () =>
    quiet(
      Effect.gen(function* () {
        const { t, config, configFile, host, ctl } = yield* setUp
        ctl.gate("k-1")
        const { run } = yield* startKernel(t, "k-1", configFile)
        const runId = yield* run(following("k-1"))
        const pipeline = ctl.pid("k-1", 1)
        host.kill("SIGKILL")
        yield* eventually("the host to die", Effect.sync(() => !isLive(host.pid)))
        const answer = yield* run(execute({ _tag: "kill", doc: "k-1" }))
        expect(answer.ok).toBe(true)
        expect(pipeline !== undefined && isLive(pipeline)).toBe(true)
        // As systemd's Restart=always would: a new host, which adopts the live monitor.
        yield* hostProcess(configFile, config.dataDir)
        yield* eventually("the killed pipeline to be stopped", Effect.sync(() => pipeline !== undefined && !isLive(pipeline)), { timeoutMs: 90_000 })
        const rows = yield* run(rowsFor("k-1"))
        expect(rows.map((r) => [r.id, r.attempt, r.state])).toEqual([[runId, 1, "failed_permanent"]])
      })
    ),
    300_000
  )

  it.scopedLive("the allocator died between ending the row and the stop: recovery stops the pipeline and forgets its run", () =>
    quiet(
      Effect.gen(function* () {
        const { t, config, configFile, ctl } = yield* setUp
        ctl.gate("k-2")
        const runId = yield* Effect.scoped(
          Effect.gen(function* () {
            const { run } = yield* startKernel(t, "k-2", configFile)
            return yield* run(following("k-2"))
          })
        )
        const pipeline = ctl.pid("k-2", 1)
        // What the kill handler had written when the allocator died (Firestore Failed first, then the row).
        const db = new Database(databaseFile(config.dataDir))
        db.prepare("UPDATE job_runs SET state = 'failed_permanent', error_message = 'Killed by tester' WHERE id = ?").run(runId)
        db.close()
        expect(pipeline !== undefined && isLive(pipeline)).toBe(true)
        // The next allocator (its Firestore no longer offers the report, so nothing new arrives).
        const { run } = yield* startAllocator({
          config,
          ports: memoryPorts(),
          executor: ExecHostExecutorLive(config, false, { spawnHost: false, configFile, startupTimeout: "120 seconds" }),
          tunables: { ...FAST, SANDBOX_ENABLED: 0 }
        })
        yield* eventually("the pipeline of the ended row to be stopped", Effect.sync(() => pipeline !== undefined && !isLive(pipeline)), { timeoutMs: 90_000 })
        const runs = join(config.dataDir, "exechost", "runs")
        yield* eventually("its run to be acknowledged", Effect.sync(() => !existsSync(runs) || readdirSync(runs).length === 0), { timeoutMs: 60_000 })
        const rows = yield* run(rowsFor("k-2"))
        expect(rows.map((r) => [r.id, r.attempt, r.state, r.error_message])).toEqual([[runId, 1, "failed_permanent", "Killed by tester"]])
      })
    ),
    300_000
  )

  it.scopedLive("the allocator died between storing an outcome and acknowledging it: recovery acknowledges the exit, the row stays as stored", () =>
    quiet(
      Effect.gen(function* () {
        const { t, config, configFile, ctl } = yield* setUp
        ctl.gate("k-3")
        ctl.exitWith("k-3", 0)
        const runId = yield* Effect.scoped(
          Effect.gen(function* () {
            const { run } = yield* startKernel(t, "k-3", configFile)
            return yield* run(following("k-3"))
          })
        )
        ctl.open("k-3")
        const runDir = join(config.dataDir, "exechost", "runs", String(runId))
        yield* eventually("the exit to be recorded", Effect.sync(() => existsSync(join(runDir, "exit"))), { timeoutMs: 60_000 })
        // What the allocator had stored when it died (found by the kernel chaos run: the record was never acknowledged).
        const db = new Database(databaseFile(config.dataDir))
        db.prepare("UPDATE job_runs SET state = 'succeeded', exit_code = 0 WHERE id = ?").run(runId)
        db.close()
        const { run } = yield* startAllocator({
          config,
          ports: memoryPorts(),
          executor: ExecHostExecutorLive(config, false, { spawnHost: false, configFile, startupTimeout: "120 seconds" }),
          tunables: { ...FAST, SANDBOX_ENABLED: 0 }
        })
        yield* eventually("the stored exit to be acknowledged", Effect.sync(() => !existsSync(runDir)), { timeoutMs: 60_000 })
        const rows = yield* run(rowsFor("k-3"))
        expect(rows.map((r) => [r.id, r.attempt, r.state, r.exit_code])).toEqual([[runId, 1, "succeeded", 0]])
      })
    ),
    300_000
  )
})
