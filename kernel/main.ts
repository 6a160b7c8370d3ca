/**
 * Entry point: `tsx kernel/main.ts [config.json]` (or LOMI_CONFIG). Without
 * either, the embedded demo. A configuration or start-up problem prints one
 * line and exits 2; SIGINT/SIGTERM interrupt every actor and run finalizers.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { fileURLToPath } from "node:url"
import { applicationLayer } from "./app.ts"
import { loadConfigFile } from "./config.ts"

const DEMO_CONFIG = fileURLToPath(new URL("../fixtures/demo/config.json", import.meta.url))
const configFile = process.argv[2] ?? process.env.LOMI_CONFIG ?? DEMO_CONFIG

const program = Effect.gen(function* () {
  const config = yield* loadConfigFile(configFile)
  if (config.firestore.mode === "embedded") {
    yield* Effect.logInfo("DEMO MODE: embedded Firestore emulator seeded from fixtures/demo (not a real project)")
  }
  return yield* Layer.launch(applicationLayer(config))
})

const oneLine = (message: string) =>
  Effect.sync(() => {
    process.stderr.write(`lomi-allocator: ${message.split("\n")[0] ?? message}\n`)
    process.exitCode = 2
  })

NodeRuntime.runMain(
  program.pipe(
    Effect.catchAll((error) => oneLine("message" in error ? String(error.message) : String(error)))
  ),
  { disableErrorReporting: false }
)
