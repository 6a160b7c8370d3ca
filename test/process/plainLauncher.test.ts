/** The plain Launcher: the legacy command line on the real trees, the instance tag, exits passed through. */
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { makePlainLauncher } from "../../kernel/process/plainLauncher.ts"
import { testScript } from "./helpers.ts"

const spec = {
  runId: 7,
  docId: "doc-7",
  patientId: "P7",
  service: "Gen-Decoder",
  attempt: 1,
  script: testScript("noop.sh"),
  env: { EXTRA: "x", LOMI_BASE_DIR: "/service/cannot/override" },
  logFile: "/var/tmp/unused.log"
}

describe("plain launcher", () => {
  const launcher = makePlainLauncher({
    patientBaseDir: "/data/base",
    userDataDir: "/data/user",
    minicondaBase: "/opt/conda",
    instance: "/var/lib/lomi",
    timeLimitSeconds: { "Gen-Decoder": 60 }
  })

  it.effect("prepare: bash <script> <docId> <patientId> <service> on the real roots, tagged with the instance", () =>
    Effect.gen(function* () {
      const launch = yield* launcher.prepare(spec)
      expect(launch.command).toBe("bash")
      expect(launch.args).toEqual([spec.script, "doc-7", "P7", "Gen-Decoder"])
      expect(launch.env).toMatchObject({
        LOMI_BASE_DIR: "/data/base",
        LOMI_USER_DIR: "/data/user",
        LOMI_MINICONDA_BASE: "/opt/conda",
        LOMI_ALLOCATOR_INSTANCE: "/var/lib/lomi",
        PYTHONDONTWRITEBYTECODE: "1",
        EXTRA: "x"
      })
      expect(launch.timeLimitMs).toBe(60_000)
    })
  )

  it.effect("prepare refuses a missing script and an unsafe patient id with one-line messages", () =>
    Effect.gen(function* () {
      const missing = yield* Effect.flip(launcher.prepare({ ...spec, script: path.join("/nonexistent", "run.sh") }))
      expect(missing.message).toBe("pipeline script not found: /nonexistent/run.sh")
      const unsafe = yield* Effect.flip(launcher.prepare({ ...spec, patientId: "../P8" }))
      expect(unsafe.message).toBe('patient id is not a safe path segment: "../P8"')
    })
  )

  it.effect("finish passes the exit through; a time limit becomes an error message", () =>
    Effect.gen(function* () {
      expect(yield* launcher.finish(spec, { code: 3, signal: null, timedOut: false })).toEqual({ code: 3, signal: null })
      expect(yield* launcher.finish(spec, { code: null, signal: "SIGKILL", timedOut: true })).toEqual({
        code: null,
        signal: "SIGKILL",
        errorMessage: "time limit of 60 s exceeded: the run was killed"
      })
      expect(yield* launcher.recover(new Set())).toBe(0)
    })
  )
})
