/**
 * The explicit "stop all pipelines": `tsx kernel/exechost/stop-all.ts [config.json] [graceSeconds]`.
 * Asks the running execution host to end every pipeline it follows (SIGTERM
 * to each process group, the grace, then SIGKILL); their exits are reported
 * to the allocator as usual. Prints how many were stopped.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Duration, Effect } from "effect"
import { fileURLToPath } from "node:url"
import { loadConfigFile } from "../config.ts"
import { stopAllPipelines } from "./client.ts"

const DEMO_CONFIG = fileURLToPath(new URL("../../fixtures/demo/config.json", import.meta.url))
const configFile = process.argv[2] ?? process.env.LOMI_CONFIG ?? DEMO_CONFIG
const graceSeconds = Number(process.argv[3] ?? "10")

NodeRuntime.runMain(
  Effect.gen(function* () {
    if (!Number.isFinite(graceSeconds) || graceSeconds < 0) {
      return yield* Effect.fail(new Error(`grace must be a number of seconds, got ${JSON.stringify(process.argv[3])}`))
    }
    const config = yield* loadConfigFile(configFile)
    const stopped = yield* stopAllPipelines(config.dataDir, Duration.seconds(graceSeconds))
    yield* Effect.sync(() => process.stdout.write(`stopped ${stopped} pipeline(s)\n`))
  }).pipe(
    Effect.catchAll((error) =>
      Effect.sync(() => {
        process.stderr.write(`lomi stop-all: ${error.message.split("\n")[0] ?? error.message}\n`)
        process.exitCode = 1
      })
    )
  )
)
