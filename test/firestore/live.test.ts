/**
 * The live port on firebase-admin against the in-process emulator: the shared
 * port contract, plus start-up failures that must read as one clear line.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { GeoPoint, Timestamp } from "firebase-admin/firestore"
import { FirestoreError } from "../../kernel/ports/firestore.ts"
import { acquireDocEditor } from "../../kernel/firestore/doc-editor.ts"
import { startEmbeddedEmulator } from "../../kernel/firestore/embedded.ts"
import { makeLiveFirestore } from "../../kernel/firestore/live.ts"
import { firestorePortContract } from "../contract/firestore.contract.ts"

const projectId = "lomi-contract"

firestorePortContract(
  "live firebase-admin port on the embedded emulator",
  Effect.gen(function* () {
    const emulator = yield* startEmbeddedEmulator({ projectId })
    const port = yield* makeLiveFirestore({ projectId, connectivityTimeoutMs: 1000 })
    // A separate client plays the hospital: its writes reach the port only through Firestore.
    const editor = yield* acquireDocEditor({ projectId })
    return {
      port,
      setReport: (id, data) => editor.set("reports", id, data),
      patchReport: (id, data) => editor.patch("reports", id, data),
      deleteReport: (id) => editor.delete("reports", id),
      setPatient: (id, data) => editor.set("patients", id, data),
      stop: emulator.stop,
      start: emulator.start
    }
  }),
  { timeout: "10 seconds" }
)

const withTempDir = <A, E, R>(use: (dir: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), "lomi-firestore-"))),
    use,
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )

const startupError = (credentialsFile: string) =>
  Effect.scoped(makeLiveFirestore({ projectId, credentialsFile, connectivityTimeoutMs: 1000 })).pipe(Effect.flip)

describe("live port start-up errors", () => {
  it.live("a missing credentials file is one clear FirestoreError line naming the file", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const file = join(dir, "missing.json")
        const error = yield* startupError(file)
        expect(error).toBeInstanceOf(FirestoreError)
        expect(error.message).toBe(`cannot read Firestore credentials file ${file}: ENOENT: no such file or directory, open '${file}'`)
      })
    ))

  it.live("a credentials file that is not JSON, not a key, or holds a broken key says which", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const cases: ReadonlyArray<readonly [string, string, string]> = [
          ["garbage.json", "this is not json", "is not valid JSON"],
          ["wrong.json", JSON.stringify({ type: "authorized_user", client_id: "x" }), "is not a service-account key"],
          [
            "badkey.json",
            JSON.stringify({ type: "service_account", project_id: projectId, client_email: "a@b.c", private_key: "nope" }),
            "has a private_key that is not a valid PEM key"
          ]
        ]
        for (const [name, content, expected] of cases) {
          const file = join(dir, name)
          yield* Effect.promise(() => writeFile(file, content))
          const error = yield* startupError(file)
          expect(error.message).toBe(`Firestore credentials file ${file} ${expected}${expected.startsWith("is not a service") ? " (needs client_email and private_key)" : ""}`)
          expect(error.message).not.toContain("\n")
        }
      })
    ))

  it.scopedLive("an unreachable Firestore fails checkConnectivity within the timeout with one line", () =>
    Effect.gen(function* () {
      const emulator = yield* startEmbeddedEmulator({ projectId })
      yield* emulator.stop
      const port = yield* makeLiveFirestore({ projectId, connectivityTimeoutMs: 500 })
      const error = yield* Effect.flip(port.checkConnectivity)
      expect(error.operation).toBe("checkConnectivity")
      expect(error.message).not.toContain("\n")
      expect(error.message).toMatch(/did not answer within 500 ms|UNAVAILABLE/)
    }))
})

describe("live port value conversion", () => {
  it.scopedLive("Firestore timestamps, geopoints and nested maps arrive as plain values, as the double would hold them", () =>
    Effect.gen(function* () {
      yield* startEmbeddedEmulator({ projectId })
      const port = yield* makeLiveFirestore({ projectId, connectivityTimeoutMs: 1000 })
      const editor = yield* acquireDocEditor({ projectId })
      yield* editor.set("reports", "r1", {
        status: "Data Ready",
        service: "Omni-Health",
        patientId: "P001",
        collectionDate: Timestamp.fromMillis(Date.UTC(2026, 0, 2, 9, 30)),
        site: new GeoPoint(52.5, 13.4),
        meta: { seenAt: [Timestamp.fromMillis(0)] }
      })
      const expected = {
        status: "Data Ready",
        service: "Omni-Health",
        patientId: "P001",
        collectionDate: "2026-01-02T09:30:00.000Z",
        site: { latitude: 52.5, longitude: 13.4 },
        meta: { seenAt: ["1970-01-01T00:00:00.000Z"] }
      }
      expect(yield* port.getReport("r1")).toEqual(expected)
      const first = yield* Stream.runHead(port.watchDataReady)
      expect(first._tag === "Some" ? first.value : undefined).toEqual({ _tag: "Added", id: "r1", data: expected })
    }))
})
