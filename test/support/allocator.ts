/**
 * A whole allocator for tests: real SQLite in a temp dir, the in-memory
 * Firestore, simulated pipelines, captured mail, on the test clock.
 */
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { StaticConfig } from "../../schemas/config.ts"
import { AppConfig } from "../../kernel/config.ts"
import { EventBus } from "../../kernel/events.ts"
import { memoryFirestoreLayer } from "../../kernel/firestore/memory.ts"
import { CaptureMailerLive } from "../../kernel/mail/capture.ts"
import { databaseFile } from "../../kernel/paths.ts"
import { simProcessLayer } from "../../kernel/replay/simProcess.ts"
import { allocatorLayer } from "../../kernel/runtime.ts"
import { ProcessPort } from "../../kernel/ports/process.ts"

export const testConfig = (dir: string): StaticConfig => ({
  dataDir: join(dir, "data"),
  timezone: "UTC",
  firestore: { mode: "embedded", projectId: "test", connectivityTimeoutMs: 1000 },
  services: {
    "Gen-Decoder": { script: "run_gen_decoder.sh", env: {} },
    "Epi-Insight": { script: "run_epi_insight.sh", env: {} },
    "Omni-Health": { script: "run_omni_health.sh", env: {} }
  },
  paths: {
    patientBaseDir: join(dir, "base"),
    userDataDir: join(dir, "user"),
    minicondaBase: "",
    pipelinesRoot: join(dir, "pipelines")
  },
  sandbox: { scratchRoot: join(dir, "scratch"), bwrapPath: "bwrap", repoWriteWhitelist: [] },
  mail: {
    host: "127.0.0.1",
    port: 2525,
    secure: false,
    ignoreTLS: true,
    from: "allocator@test",
    dashboardUrl: "http://dash",
    recipients: { upload_reminder: ["lab@test"], permanent_failure: ["ops@test"], manual_add: ["lab@test"] }
  },
  health: { geminiBaseUrl: "http://127.0.0.1:1", ocrUrl: "http://127.0.0.1:1", ttlSeconds: 60, timeoutMs: 1000 },
  http: { host: "127.0.0.1", port: 0, users: [] }
})

export const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "lomi-test-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** The outside world that survives an allocator restart. */
export const worldLayer = (config: StaticConfig) =>
  Layer.mergeAll(
    memoryFirestoreLayer(),
    simProcessLayer,
    CaptureMailerLive(),
    Layer.succeed(AppConfig, config)
  ).pipe(Layer.provideMerge(EventBus.Default))

export const allocatorOn = (config: StaticConfig) => allocatorLayer(databaseFile(config.dataDir), Layer.effect(ProcessPort, ProcessPort))
