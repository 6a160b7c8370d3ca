/**
 * A whole allocator for tests: real SQLite in a temp dir, the in-memory
 * Firestore, simulated pipelines and captured mail: the replay's world,
 * pointed into the test's own temp dir.
 */
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { StaticConfig } from "../../schemas/config.ts"
import { databaseFile } from "../../kernel/paths.ts"
import { Executor } from "../../kernel/ports/executor.ts"
import { replayConfig, replayWorldLayer } from "../../kernel/replay/world.ts"
import { allocatorLayer } from "../../kernel/runtime.ts"

export const testConfig = (dir: string): StaticConfig => replayConfig(dir, "UTC")

export const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "lomi-test-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** The outside world that survives an allocator restart. */
export const worldLayer = replayWorldLayer

export const allocatorOn = (config: StaticConfig) =>
  allocatorLayer(databaseFile(config.dataDir), Layer.effect(Executor, Executor))
