/**
 * SQLite refusing writes after a pipeline exited (issue 11): the outcome is
 * stored once writes work again, the executor keeps the exit unacknowledged
 * meanwhile, and /readyz says not ready (its probe is a write).
 *
 * Disk full is real: the data dir is a small tmpfs filled to the last byte
 * with a filler file, then the filler is removed. Mounting needs root; where
 * it is refused the test says so and is skipped. A held write lock (another
 * connection in BEGIN IMMEDIATE) is the second real refusal and runs anywhere.
 */
import { execFileSync } from "node:child_process"
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Reactivity } from "@effect/experimental"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Context, Duration, Effect, Layer } from "effect"
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import { databaseFile } from "../../kernel/paths.ts"
import { Executor } from "../../kernel/ports/executor.ts"
import { SimHost } from "../../kernel/replay/simHost.ts"
import { JobStore } from "../../kernel/store/jobs.ts"
import { send, serverLayer, TestServer } from "../http/support.ts"
import { tempDir } from "../support/allocator.ts"
import { dataReady, eventually, quiet } from "./support.ts"

const TIMEOUT = 120_000

const canMountTmpfs = (() => {
  const probe = join("/tmp", `lomi-mount-probe-${process.pid}`)
  try {
    mkdirSync(probe, { recursive: true })
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], { stdio: "ignore" })
    execFileSync("umount", [probe], { stdio: "ignore" })
    return true
  } catch {
    return false
  } finally {
    rmSync(probe, { recursive: true, force: true })
  }
})()

/** A tmpfs of `size` at `dir`, unmounted with the scope. */
const tmpfs = (dir: string, size: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      mkdirSync(dir, { recursive: true })
      execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir])
      return dir
    }),
    () => Effect.sync(() => execFileSync("umount", ["-l", dir]))
  )

/** Writes `file` until the filesystem has no byte left. */
const fillDisk = (file: string) => {
  const fd = openSync(file, "w")
  const block = Buffer.alloc(16 * 1024, 1)
  try {
    for (;;) writeSync(fd, block)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e
  } finally {
    closeSync(fd)
  }
  // The last partial block: fill byte by byte.
  const tail = openSync(file, "a")
  try {
    for (;;) writeSync(tail, Buffer.alloc(512, 1))
  } catch {
    // full
  } finally {
    closeSync(tail)
  }
}

/** The allocator with its HTTP layer on `dataDir`; the pipeline outcome is scripted on the in-memory host. */
const startServer = (dataDir: string) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(serverLayer({ configure: (c) => ({ ...c, dataDir }) }))
    const run = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, context) as Effect.Effect<A, E, never>
    const { base } = Context.get(context, TestServer)
    const readyz = send(base, "GET", "/readyz")
    const rows = (doc: string) => run(Effect.flatMap(JobStore, (jobs) => jobs.rowsForDoc(doc)))
    const statusOf = (runId: number) => run(Effect.flatMap(Executor, (e) => e.status([runId]))).pipe(Effect.map((m) => m.get(runId)?._tag))
    return { run, readyz, rows, statusOf }
  })

/** A document whose pipeline exits 0 after `after`; returns its run id once it is running. */
const startRun = (server: Effect.Effect.Success<ReturnType<typeof startServer>>, doc: string, after: Duration.Duration) =>
  Effect.gen(function* () {
    yield* server.run(Effect.flatMap(SimHost, (h) => h.append(doc, [{ _tag: "Exit", code: 0, after }])))
    yield* server.run(Effect.flatMap(MemoryFirestore, (fs) => fs.setReport(doc, dataReady("Epi-Insight", "P-1"))))
    const running = yield* eventually(`${doc} running`, Effect.map(server.rows(doc), (r) => r.find((x) => x.state === "running")))
    return running.id
  })

describe("SQLite refuses the write of an outcome", () => {
  it.scopedLive.skipIf(!canMountTmpfs)(
    "disk full: the exit stays unacknowledged and /readyz is not ready until space returns; then the outcome is stored once",
    () =>
      quiet(
        Effect.gen(function* () {
          const dir = yield* tempDir
          const dataDir = yield* tmpfs(join(dir, "data"), "4m")
          const server = yield* startServer(dataDir)
          expect((yield* server.readyz).status).toBe(200)
          const runId = yield* startRun(server, "full-1", Duration.seconds(2))

          const filler = join(dataDir, "filler")
          fillDisk(filler)
          // The pipeline exits; its outcome cannot be written.
          yield* eventually("the executor to record the exit", Effect.map(server.statusOf(runId), (s) => s === "Exited"))
          const notReady = yield* eventually(
            "/readyz to say not ready",
            Effect.map(server.readyz, (r) => (r.status === 503 ? r : undefined))
          )
          expect(JSON.stringify(notReady.body)).toContain("database or disk is full")
          // Retries keep failing; the row stays running and the exit stays with the executor.
          yield* Effect.sleep(Duration.seconds(3))
          expect((yield* server.rows("full-1")).map((r) => [r.attempt, r.state])).toEqual([[1, "running"]])
          expect(yield* server.statusOf(runId)).toBe("Exited")

          rmSync(filler)
          const stored = yield* eventually(
            "the outcome to be stored",
            Effect.map(server.rows("full-1"), (r) => (r[0]?.state === "succeeded" ? r : undefined)),
            { timeoutMs: 60_000 }
          )
          expect(stored.map((r) => [r.id, r.attempt, r.state, r.exit_code])).toEqual([[runId, 1, "succeeded", 0]])
          yield* eventually("the exit to be acknowledged", Effect.map(server.statusOf(runId), (s) => s === "Unknown"))
          const ready = yield* server.readyz
          expect([ready.status, ready.body]).toEqual([200, { ready: true, database: "ok", outage: false }])
        })
      ),
    TIMEOUT
  )

  it.scopedLive(
    "database locked by another writer: the outcome waits, /readyz is not ready, and it is stored once the lock is gone",
    () =>
      quiet(
        Effect.gen(function* () {
          const dir = yield* tempDir
          const dataDir = join(dir, "data")
          const server = yield* startServer(dataDir)
          const runId = yield* startRun(server, "lock-1", Duration.seconds(2))

          // A second connection, as a backup tool or a stray sqlite3 shell would hold it.
          const other = yield* SqliteClient.make({ filename: databaseFile(dataDir) }).pipe(Effect.provide(Reactivity.layer))
          yield* other.unsafe("BEGIN IMMEDIATE")
          yield* eventually("the executor to record the exit", Effect.map(server.statusOf(runId), (s) => s === "Exited"))
          const notReady = yield* eventually(
            "/readyz to say not ready",
            Effect.map(server.readyz, (r) => (r.status === 503 ? r : undefined))
          )
          expect(JSON.stringify(notReady.body)).toContain("database is locked")
          expect((yield* server.rows("lock-1")).map((r) => r.state)).toEqual(["running"])

          yield* other.unsafe("ROLLBACK")
          const stored = yield* eventually(
            "the outcome to be stored",
            Effect.map(server.rows("lock-1"), (r) => (r[0]?.state === "succeeded" ? r : undefined)),
            { timeoutMs: 60_000 }
          )
          expect(stored.map((r) => [r.attempt, r.state])).toEqual([[1, "succeeded"]])
          expect((yield* server.readyz).status).toBe(200)
        })
      ),
    TIMEOUT
  )
})
