/**
 * The embedded emulator as `make run` uses it: built from the static config,
 * seeded with fixtures/demo, discoverable through `<dataDir>/emulator-host`,
 * and editable with the demo-doc CLI.
 */
import { execFile } from "node:child_process"
import { mkdtemp, readFile, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, Exit, Layer, Schema, Scope, Stream } from "effect"
import { StaticConfig } from "../../schemas/config.ts"
import { DATA_READY, parseReport } from "../../schemas/report.ts"
import { FirestorePort } from "../../kernel/ports/firestore.ts"
import { EmbeddedFirestore, embeddedFirestoreLayer } from "../../kernel/firestore/embedded.ts"
import { emulatorHostFile } from "../../kernel/firestore/emulator-host.ts"
import { DEMO_SEED_DIR, loadSeed } from "../../kernel/firestore/seed.ts"

const run = promisify(execFile)

const configFor = (dataDir: string): StaticConfig =>
  Schema.decodeUnknownSync(StaticConfig)({
    dataDir,
    firestore: { mode: "embedded", projectId: "lomi-demo", connectivityTimeoutMs: 2000 },
    services: {
      "Gen-Decoder": { script: "gen.sh" },
      "Epi-Insight": { script: "epi.sh" },
      "Omni-Health": { script: "omni.sh" }
    },
    paths: { patientBaseDir: dataDir, userDataDir: dataDir, pipelinesRoot: dataDir },
    sandbox: {},
    mail: {
      host: "127.0.0.1",
      port: 2525,
      from: "allocator@demo.invalid",
      recipients: { upload_reminder: [], permanent_failure: [], manual_add: [] }
    }
  })

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "lomi-embedded-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

const exists = (file: string) =>
  Effect.promise(() =>
    stat(file).then(
      () => true,
      () => false
    )
  )

describe("demo seed", () => {
  it.effect("every demo report names a demoOutcome, and every patientId has a patients document", () =>
    Effect.gen(function* () {
      const seed = yield* loadSeed(DEMO_SEED_DIR)
      const reports = Object.entries(seed.reports)
      expect(reports.length).toBeGreaterThanOrEqual(10)
      for (const [id, data] of reports) {
        expect(String(data.demoOutcome), id).toMatch(/^(succeed|fail|tempfail:[1-9][0-9]*)$/)
        if (typeof data.patientId === "string") expect(seed.patients[data.patientId], id).toBeDefined()
      }
      const services = new Set(reports.map(([, data]) => data.service))
      expect([...services]).toEqual(expect.arrayContaining(["Gen-Decoder", "Epi-Insight", "Omni-Health"]))
      const outcomes = reports.map(([, data]) => data.demoOutcome)
      expect(outcomes).toEqual(expect.arrayContaining(["succeed", "fail", "tempfail:3"]))
      // One Gen-Decoder that waits its cooldown, and one order that is not Data Ready, for Manual Add.
      expect(reports.some(([, d]) => d.service === "Gen-Decoder" && d.status === DATA_READY && d.manualHoldRelease !== true)).toBe(true)
      expect(reports.some(([, d]) => d.status === "Ordered")).toBe(true)
      const managedDataReady = reports.filter(([, d]) => d.status === DATA_READY && d.service !== "Bio-Age")
      const invalid = managedDataReady.map(([id, d]) => parseReport(id, d)).filter((p) => p._tag === "Invalid")
      expect(invalid.map((p) => p.id)).toEqual(["demo-omni-04"])
    }))
})

describe("embedded emulator from the static config", () => {
  it.scopedLive("is seeded from fixtures/demo, publishes its host, and cleans up on release", () =>
    Effect.gen(function* () {
      const dataDir = yield* tempDir
      const hostFile = emulatorHostFile(dataDir)
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(embeddedFirestoreLayer(configFor(dataDir)), scope)
      const port = Context.get(context, FirestorePort)
      const emulator = Context.get(context, EmbeddedFirestore)

      expect(yield* Effect.promise(() => readFile(hostFile, "utf8"))).toBe(`${emulator.host}\nlomi-demo\n`)
      expect(process.env.FIRESTORE_EMULATOR_HOST).toBe(emulator.host)
      yield* port.checkConnectivity
      expect(yield* port.getPatient("P-1001")).toMatchObject({ name: "Ada Lovelace" })

      const seed = yield* loadSeed(DEMO_SEED_DIR)
      const expected = Object.entries(seed.reports)
        .filter(([, data]) => data.status === DATA_READY)
        .map(([id]) => id)
        .sort()
      const initial = yield* Stream.runCollect(Stream.take(port.watchDataReady, expected.length))
      expect(Chunk.toReadonlyArray(initial).map((c) => `${c._tag} ${c.id}`)).toEqual(expected.map((id) => `Added ${id}`))

      // The CLI finds the emulator through the host file and edits documents in it.
      const cli = (...args: ReadonlyArray<string>) =>
        Effect.promise(() =>
          run(process.execPath, ["--import", "tsx", "kernel/firestore/demo-doc.ts", "--data-dir", dataDir, ...args], { env: { ...process.env, FIRESTORE_EMULATOR_HOST: "" } })
        )
      const patched = yield* cli("patch", "demo-omni-03", JSON.stringify({ status: DATA_READY }))
      expect(patched.stdout).toContain('reports/demo-omni-03 {"status":"Data Ready"')
      expect((yield* port.getReport("demo-omni-03"))?.status).toBe(DATA_READY)
      // The README's form, through make: ARGS arrives as one word holding quotes and spaces.
      const viaMake = yield* Effect.promise(() =>
        run("make", ["-s", "demo-doc", `DATA_DIR=${dataDir}`, 'ARGS=set demo-x {"status":"Data Ready","service":"Epi-Insight","patientId":"P-1001","patientName":"Ada L"}'], {
          env: { ...process.env, FIRESTORE_EMULATOR_HOST: "" }
        })
      )
      expect(viaMake.stdout).toContain('reports/demo-x {"status":"Data Ready"')
      expect((yield* port.getReport("demo-x"))?.patientName).toBe("Ada L")
      yield* cli("delete", "demo-gen-04")
      expect(yield* port.getReport("demo-gen-04")).toBeUndefined()

      yield* Scope.close(scope, Exit.void)
      expect(yield* exists(hostFile)).toBe(false)
      expect(process.env.FIRESTORE_EMULATOR_HOST).toBeUndefined()
    }), { timeout: 300_000 })
})
