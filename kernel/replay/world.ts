/**
 * What a replay swaps in for the outside world: the in-memory Firestore,
 * a simulated execution host whose pipelines outlive the allocator, captured mail, a temporary directory for the database
 * and any files (patient_info.json), and a configuration pointing into it.
 * The database there is thrown away with the directory: it runs without the
 * live store's durability (ThrowawayDatabase: same statements, same results).
 */
import { Layer } from "effect"
import { join } from "node:path"
import type { StaticConfig } from "../../schemas/config.ts"
import { AppConfig } from "../config.ts"
import { EventBus } from "../events.ts"
import { memoryFirestoreLayer } from "../firestore/memory.ts"
import { CaptureMailerLive } from "../mail/capture.ts"
import { ThrowawayDatabase } from "../store/database.ts"
import { simHostLayer } from "./simHost.ts"

export const replayConfig = (dir: string, timezone: string): StaticConfig => ({
  dataDir: join(dir, "data"),
  timezone,
  firestore: { mode: "embedded", projectId: "replay", connectivityTimeoutMs: 1000 },
  services: {
    "Gen-Decoder": { script: "run_gen_decoder.sh", env: {} },
    "Epi-Insight": { script: "run_epi_insight.sh", env: {} },
    "Omni-Health": { script: "run_omni_health.sh", env: {} }
  },
  paths: {
    patientBaseDir: join(dir, "patient-base"),
    userDataDir: join(dir, "user-data"),
    minicondaBase: "",
    pipelinesRoot: join(dir, "pipelines")
  },
  sandbox: { scratchRoot: join(dir, "scratch"), bwrapPath: "bwrap", repoWriteWhitelist: [] },
  mail: {
    host: "127.0.0.1",
    port: 25,
    secure: false,
    ignoreTLS: true,
    from: "allocator@replay",
    dashboardUrl: "http://127.0.0.1:8080",
    recipients: { upload_reminder: ["lab@replay"], permanent_failure: ["ops@replay"], manual_add: ["lab@replay"] }
  },
  health: { geminiBaseUrl: "http://127.0.0.1:9", ocrUrl: "http://127.0.0.1:9", ttlSeconds: 60, timeoutMs: 1000 },
  http: { host: "127.0.0.1", port: 0, users: [] }
})

/**
 * Everything that outlives an allocator crash in a replay, with a durable
 * store: the tests that put a whole allocator in this world (a disk that
 * fills, a database another writer locks) need the live store's locking and
 * journal.
 */
export const replayWorldLayer = (config: StaticConfig) =>
  Layer.mergeAll(memoryFirestoreLayer(), simHostLayer, CaptureMailerLive(), Layer.succeed(AppConfig, config)).pipe(
    Layer.provideMerge(EventBus.Default)
  )

/** The replay's own world: the same, with a database thrown away with its directory. */
export const throwawayReplayWorldLayer = (config: StaticConfig) =>
  Layer.merge(replayWorldLayer(config), Layer.succeed(ThrowawayDatabase, { removedBy: "the replay, with its temporary directory" }))
