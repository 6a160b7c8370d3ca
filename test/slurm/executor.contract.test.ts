/** The Slurm executor against the shared Executor contract, on a real single-node Slurm. */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll } from "vitest"
import { Effect } from "effect"
import { makeSlurmExecutor } from "../../kernel/process/slurm/executor.ts"
import { type Behaviour, executorContract } from "../contract/executor.contract.ts"
import { type SlurmCluster, startSlurmCluster } from "./cluster.ts"
import { buildRunner } from "./runner-build.ts"
import { executorOptions, makeSpec, makeWorld } from "./support.ts"

let cluster: SlurmCluster | undefined
let runner: ReadonlyArray<string> = []

beforeAll(async () => {
  const [started, built] = await Promise.all([
    startSlurmCluster(),
    buildRunner("test/slurm/contract-runner.ts", mkdtempSync(join(tmpdir(), "lomi-runner-")))
  ])
  cluster = started
  runner = built
}, 180_000)

afterAll(async () => {
  await cluster?.stop()
}, 60_000)

const envOf = (b: Behaviour, world: { readonly root: string }): Record<string, string> =>
  "hang" in b
    ? { LOMI_TEST_WAIT_FILE: join(world.root, "never") }
    : {
        LOMI_TEST_EXIT: String(b.exit),
        LOMI_TEST_SLEEP_MS: String(b.afterMs),
        ...("errorMessage" in b ? { LOMI_TEST_ERROR_MESSAGE: b.errorMessage } : {})
      }

executorContract(
  "Slurm",
  Effect.gen(function* () {
    const live = cluster
    if (live === undefined) return yield* Effect.die(new Error("Slurm test cluster did not start"))
    const world = yield* Effect.acquireRelease(Effect.sync(() => makeWorld(runner)), (w) => Effect.sync(w.cleanup))
    const options = executorOptions(live, world)
    return {
      connect: makeSlurmExecutor(options),
      pipeline: (runId: number, behaviour: Behaviour) => Effect.succeed(makeSpec(world, envOf(behaviour, world), { runId, docId: `doc-${runId}` }))
    }
  }),
  { timeout: "45 seconds" }
)
