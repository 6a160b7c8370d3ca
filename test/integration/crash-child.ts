/**
 * A daemon to crash: `node --import tsx test/integration/crash-child.ts <root> <docId> [plain|sandbox]`
 * starts an allocator (that executor, in-memory Firestore) on `<root>` as laid
 * out by support.ts `tempRoot`, lets `<docId>` start running, prints
 * `RUNNING <runId>` and waits to be killed.
 */
import { join } from "node:path"
import { Effect } from "effect"
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import {
  dataReady,
  eventually,
  FAST,
  integrationConfig,
  memoryPorts,
  plainExecutor,
  quiet,
  runLog,
  sandboxExecutor,
  startAllocator,
  type TestRoot,
  waitForState
} from "./support.ts"

const [root, docId, mode = "plain"] = process.argv.slice(2)
if (root === undefined || docId === undefined) throw new Error("usage: crash-child.ts <root> <docId> [plain|sandbox]")
const t: TestRoot = { root, script: join(root, "bin", "pipeline.sh"), ctl: join(root, "bin", "ctl") }

const daemon = Effect.gen(function* () {
  const config = integrationConfig(t)
  const { run } = yield* startAllocator({
    config,
    ports: memoryPorts(),
    executor: mode === "sandbox" ? sandboxExecutor(config, t) : plainExecutor(config),
    tunables: { ...FAST, SANDBOX_ENABLED: mode === "sandbox" ? 1 : 0, MAX_RETRIES: 3 }
  })
  yield* run(Effect.flatMap(MemoryFirestore, (fs) => fs.setReport(docId, dataReady("Epi-Insight"))))
  const row = yield* run(waitForState(docId, "running"))
  yield* eventually(`${docId} at its gate`, Effect.sync(() => runLog(config, row).includes(`waiting for ${docId}.go`)))
  process.stdout.write(`RUNNING ${row.id}\n`)
  return yield* Effect.never
})

Effect.runFork(quiet(Effect.scoped(daemon)))
