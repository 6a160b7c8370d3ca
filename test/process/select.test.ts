/** Executor selection from the static config and SANDBOX_ENABLED. */
import { chmodSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ProcessPort } from "../../kernel/ports/process.ts"
import { checkBwrap, ProcessPortLive } from "../../kernel/process/select.ts"
import { effectiveMaxWorkers } from "../../schemas/tunables.ts"
import type { StaticConfig } from "../../schemas/config.ts"
import { makeSpec, makeWorld, quiet, readLog, runToExit, testScript, type World } from "./helpers.ts"

const configFor = (world: World, bwrapPath: string): StaticConfig => ({
  dataDir: world.root,
  timezone: "UTC",
  firestore: { mode: "embedded", projectId: "demo", connectivityTimeoutMs: 5000 },
  services: {
    "Gen-Decoder": { script: "run_gen_decoder.sh", env: {} },
    "Epi-Insight": { script: "run_epi_insight.sh", env: {} },
    "Omni-Health": { script: "run_omni_health.sh", env: {} }
  },
  paths: { patientBaseDir: world.base, userDataDir: world.user, minicondaBase: "", pipelinesRoot: world.pipelines },
  sandbox: { scratchRoot: world.scratch, bwrapPath, cacheDir: world.cache, repoWriteWhitelist: [] },
  mail: {
    host: "127.0.0.1",
    port: 2525,
    secure: false,
    ignoreTLS: true,
    from: "lomi@example.org",
    dashboardUrl: "http://127.0.0.1:8080",
    recipients: { upload_reminder: [], permanent_failure: [], manual_add: [] }
  },
  health: { geminiBaseUrl: "http://127.0.0.1:1", ocrUrl: "http://127.0.0.1:1", ttlSeconds: 60, timeoutMs: 1000 },
  http: { host: "127.0.0.1", port: 8080, users: [] }
})

describe("executor selection", () => {
  let world: World
  beforeAll(() => {
    world = makeWorld()
  })
  afterAll(() => world.cleanup())

  it("effectiveMaxWorkers is forced to 1 without the sandbox", () => {
    expect(effectiveMaxWorkers({ MAX_WORKERS: 8, SANDBOX_ENABLED: 1 })).toBe(8)
    expect(effectiveMaxWorkers({ MAX_WORKERS: 8, SANDBOX_ENABLED: 0 })).toBe(1)
    expect(effectiveMaxWorkers({ MAX_WORKERS: 1, SANDBOX_ENABLED: 0 })).toBe(1)
  })

  it.live("a missing bwrap fails start-up with how to install it or switch the sandbox off", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(checkBwrap("bwrap-definitely-missing"))
      expect(error._tag).toBe("SandboxUnavailable")
      expect(error.message).toContain("apt-get install bubblewrap")
      expect(error.message).toContain("SANDBOX_ENABLED=0")
      const layerError = yield* Effect.flip(
        Layer.build(ProcessPortLive(configFor(world, "/nonexistent/bwrap"), 1)).pipe(Effect.scoped, quiet)
      )
      expect(layerError.message).toContain("/nonexistent/bwrap")
    })
  )

  it.live("a bwrap that cannot build a sandbox is refused with its own error", () =>
    Effect.gen(function* () {
      const fake = path.join(world.root, "fake-bwrap")
      writeFileSync(fake, "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
      chmodSync(fake, 0o755)
      const error = yield* Effect.flip(checkBwrap(fake))
      expect(error.message).toContain("No permissions to create new namespace")
      expect(error.message).toContain("SANDBOX_ENABLED=0")
    })
  )

  it.live("bwrap is found on PATH by name and works here", () =>
    Effect.gen(function* () {
      expect(yield* checkBwrap("bwrap")).toBe("/usr/bin/bwrap")
    })
  )

  it.live("SANDBOX_ENABLED=1 gives the bubblewrap executor, 0 the plain one", () =>
    quiet(
      Effect.gen(function* () {
        // Both see the real roots (rule 15); only the sandboxed run is in its own pid namespace.
        for (const [enabled, sandboxed] of [
          [1, true],
          [0, false]
        ] as const) {
          const port = yield* Effect.provide(ProcessPort, ProcessPortLive(configFor(world, "bwrap"), enabled))
          const spec = makeSpec(world, { script: testScript("snippet.sh"), env: { LOMI_TEST_SNIPPET: 'echo "MYPID $$"; echo "BASE=$LOMI_BASE_DIR"' } })
          expect((yield* runToExit(port, spec)).code).toBe(0)
          expect(readLog(spec)).toContain(`BASE=${world.base}\n`)
          expect(Number(/MYPID (\d+)/.exec(readLog(spec))?.[1]) < 10).toBe(sandboxed)
        }
      })
    )
  )
})
