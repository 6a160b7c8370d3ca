/** The plain (unsandboxed) executor with real bash processes. */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Scope } from "effect"
import { makePlainExecutor } from "../../kernel/process/plain.ts"
import type { ProcessPortShape } from "../../kernel/ports/process.ts"
import {
  demoScript,
  eventually,
  groupPids,
  makeSpec,
  makeWorld,
  pidsMatching,
  quiet,
  readLog,
  runToExit,
  testScript,
  type World
} from "./helpers.ts"

describe("plain executor", () => {
  let world: World
  let port: ProcessPortShape
  beforeAll(() => {
    world = makeWorld()
    port = makePlainExecutor({
      patientBaseDir: world.base,
      userDataDir: world.user,
      minicondaBase: "/opt/conda-test",
      killGrace: Duration.millis(500)
    })
  })
  afterAll(() => world.cleanup())

  for (const code of [0, 3, 75]) {
    it.live(`reports exit code ${code}`, () =>
      quiet(Effect.gen(function* () {
        const spec = makeSpec(world, { env: { LOMI_TEST_EXIT_CODE: String(code) } })
        const exit = yield* runToExit(port, spec)
        expect(exit).toEqual({ code, signal: null })
      }))
    )
  }

  it.live("passes docId, patientId and service, and the allocator's environment", () =>
    quiet(Effect.gen(function* () {
      const spec = makeSpec(world, {
        docId: "docA",
        patientId: "P042",
        service: "Omni-Health",
        env: { LOMI_TEST_EXTRA: "extra-value", LOMI_BASE_DIR: "/service/cannot/override" }
      })
      yield* runToExit(port, spec)
      const log = readLog(spec)
      expect(log).toContain("args: docA P042 Omni-Health")
      expect(log).toContain(`LOMI_BASE_DIR=${world.base}\n`)
      expect(log).toContain(`LOMI_USER_DIR=${world.user}\n`)
      expect(log).toContain("LOMI_MINICONDA_BASE=/opt/conda-test\n")
      expect(log).toContain("PYTHONDONTWRITEBYTECODE=1\n")
      expect(log).toContain("LOMI_TEST_EXTRA=extra-value\n")
    }))
  )

  it.live("writes stdout and stderr to the log file, creating its directories, appending", () =>
    quiet(Effect.gen(function* () {
      const logFile = path.join(world.logs, "deep", "er", "run.log.2")
      yield* runToExit(port, makeSpec(world, { logFile, env: { LOMI_TEST_EXIT_CODE: "4" } }))
      yield* runToExit(port, makeSpec(world, { logFile, env: { LOMI_TEST_EXIT_CODE: "5" } }))
      const log = readFileSync(logFile, "utf8")
      expect(log).toContain("to stderr")
      expect(log).toContain("exiting with 4")
      expect(log).toContain("exiting with 5")
      expect(log.indexOf("exiting with 4")).toBeLessThan(log.indexOf("exiting with 5"))
    }))
  )

  it.live("a missing script is a SpawnError naming the path", () =>
    quiet(Effect.gen(function* () {
      const script = path.join(world.root, "no-such-runner.sh")
      const error = yield* Effect.flip(Effect.scoped(port.start(makeSpec(world, { script }))))
      expect(error._tag).toBe("SpawnError")
      expect(error.message).toBe(`pipeline script not found: ${script}`)
    }))
  )

  it.live("an unusable log path is a SpawnError, not a crash", () =>
    quiet(Effect.gen(function* () {
      const file = path.join(world.root, "a-file")
      writeFileSync(file, "")
      const error = yield* Effect.flip(Effect.scoped(port.start(makeSpec(world, { logFile: path.join(file, "run.log.1") }))))
      expect(error.message).toMatch(/^cannot open log file /)
    }))
  )

  it.live("a spawn failure (missing interpreter) is a SpawnError", () =>
    quiet(Effect.gen(function* () {
      const broken = makePlainExecutor({
        patientBaseDir: world.base,
        userDataDir: world.user,
        minicondaBase: "",
        bash: path.join(world.root, "no-bash")
      })
      const error = yield* Effect.flip(Effect.scoped(broken.start(makeSpec(world))))
      expect(error._tag).toBe("SpawnError")
      expect(error.message).toContain("ENOENT")
    }))
  )

  it.live("an unsafe patient id is refused before anything runs", () =>
    quiet(Effect.gen(function* () {
      const error = yield* Effect.flip(Effect.scoped(port.start(makeSpec(world, { patientId: "../etc" }))))
      expect(error.message).toContain("patient id is not a safe path segment")
    }))
  )

  it.live("closing the scope ends a hanging pipeline with SIGTERM, well within the grace", () =>
    quiet(Effect.gen(function* () {
      const spec = makeSpec(world, { script: testScript("hang.sh") })
      const scope = yield* Scope.make()
      const running = yield* Scope.extend(port.start(spec), scope)
      yield* eventually(Effect.sync(() => (readLog(spec).includes("hanging") ? true : undefined)))
      const pgid = running.pid ?? -1
      expect(groupPids(pgid).length).toBeGreaterThan(0)
      const began = performance.now()
      yield* Scope.close(scope, Exit.void)
      const exit = yield* running.exit
      expect(exit).toEqual({ code: null, signal: "SIGTERM" })
      expect(performance.now() - began).toBeLessThan(500)
      expect(groupPids(pgid)).toEqual([])
    }))
  )

  it.live("closing the scope kills a forked grandchild too", () =>
    quiet(Effect.gen(function* () {
      const spec = makeSpec(world, { script: testScript("fork-grandchild.sh") })
      const token = `lomi-gc-${spec.docId}`
      const scope = yield* Scope.make()
      const running = yield* Scope.extend(port.start(spec), scope)
      yield* eventually(Effect.sync(() => (pidsMatching(token).length === 1 ? true : undefined)))
      const [grandchild] = pidsMatching(token)
      yield* Scope.close(scope, Exit.void)
      yield* running.exit
      expect(grandchild).toBeDefined()
      expect(pidsMatching(token)).toEqual([])
      expect(groupPids(running.pid ?? -1)).toEqual([])
    }))
  )

  it.live("a pipeline that ignores SIGTERM is SIGKILLed after the grace", () =>
    quiet(Effect.gen(function* () {
      const spec = makeSpec(world, { script: testScript("ignore-term.sh") })
      const scope = yield* Scope.make()
      const running = yield* Scope.extend(port.start(spec), scope)
      yield* eventually(Effect.sync(() => (readLog(spec).includes("ignoring SIGTERM") ? true : undefined)))
      const began = performance.now()
      yield* Scope.close(scope, Exit.void)
      const exit = yield* running.exit
      expect(exit.signal).toBe("SIGKILL")
      expect(performance.now() - began).toBeGreaterThanOrEqual(450)
      expect(groupPids(running.pid ?? -1)).toEqual([])
    }))
  )

  it.live("a background process left behind by a finished pipeline does not survive its run", () =>
    quiet(Effect.gen(function* () {
      const spec = makeSpec(world, { script: testScript("leave-straggler.sh") })
      const exit = yield* runToExit(port, spec)
      expect(exit.code).toBe(0)
      expect(pidsMatching(`lomi-gc-${spec.docId}`)).toEqual([])
    }))
  )

  it.live("demo runners honour LOMI_DEMO_OUTCOME on the real trees", () =>
    quiet(Effect.gen(function* () {
      // The tempfail counter lives under $HOME/.cache: a home of this test's own keeps runs apart.
      const env = { LOMI_DEMO_SECONDS: "0", HOME: path.join(world.root, "home") }
      const gen = makeSpec(world, { script: demoScript("run_gen_decoder.sh"), service: "Gen-Decoder", patientId: "PD1", env })
      expect((yield* runToExit(port, gen)).code).toBe(0)
      expect(readFileSync(path.join(world.user, "PD1", "Gen-Decoder", "report.md"), "utf8")).toContain("PD1")

      const failing = { ...env, LOMI_DEMO_OUTCOME: "fail" }
      const epi = makeSpec(world, { script: demoScript("run_epi_insight.sh"), service: "Epi-Insight", patientId: "PD1", env: failing })
      expect((yield* runToExit(port, epi)).code).toBe(1)

      const temp = { ...env, LOMI_DEMO_OUTCOME: "tempfail:2" }
      const codes: Array<number | null> = []
      for (let i = 0; i < 3; i++) {
        const spec = makeSpec(world, { script: demoScript("run_epi_insight.sh"), service: "Epi-Insight", patientId: "PD2", env: temp })
        codes.push((yield* runToExit(port, spec)).code)
      }
      expect(codes).toEqual([75, 75, 0])
      expect(readFileSync(path.join(world.user, "PD2", "Epi-Insight", "epi_age.csv"), "utf8")).toContain("PD2,42.0")

      mkdirSync(path.join(world.root, "ocr"), { recursive: true })
      const ocr = path.join(world.root, "ocr", "edited.json")
      writeFileSync(ocr, '{"edited":true}\n')
      const omni = makeSpec(world, {
        script: demoScript("run_omni_health.sh"),
        service: "Omni-Health",
        patientId: "PD3",
        env: { ...env, LOMI_OCR_FILE: ocr }
      })
      expect((yield* runToExit(port, omni)).code).toBe(0)
      expect(readLog(omni)).toContain(`edited-OCR re-run: using ${ocr}`)
      expect(readFileSync(path.join(world.user, "PD3", "Omni-Health", "ocr.json"), "utf8")).toBe('{"edited":true}\n')
    }))
  )
})
