/**
 * Entry point: `tsx kernel/main.ts [config.json]` (or LOMI_CONFIG). Without
 * either, the embedded demo. A configuration or start-up problem prints one
 * line and exits 2; SIGINT/SIGTERM interrupt every actor and run finalizers.
 */
// The module, not the package's index: the index pulls in its HTTP client and undici with it.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Context, Effect, Exit, Layer } from "effect"
import { fileURLToPath } from "node:url"
import { applicationLayer } from "./app.ts"
import { loadConfigFile } from "./config.ts"
import { withFiberCpu } from "./fiberCpu.ts"
import { KernelLifecycle, RESTART_EXIT_CODE } from "./restart.ts"
import { TimeSlicedScheduler } from "./scheduler.ts"

const DEMO_CONFIG = fileURLToPath(new URL("../fixtures/demo/config.json", import.meta.url))
const configFile = process.argv[2] ?? process.env.LOMI_CONFIG ?? DEMO_CONFIG

const banner = (lines: ReadonlyArray<string>) =>
  Effect.sync(() => process.stdout.write(`\n${lines.map((l) => `  ${l}`).join("\n")}\n\n`))

const program = Effect.gen(function* () {
  const config = yield* loadConfigFile(configFile)
  const app = yield* Layer.build(applicationLayer(config))
  // The dashboard server (kernel/dashboard/main.ts) prints its address and the login.
  yield* banner([
    config.firestore.mode === "embedded"
      ? "lomi-allocator DEMO: embedded Firestore emulator seeded from fixtures/demo (not a real project)"
      : `lomi-allocator: Firestore project ${config.firestore.projectId}`,
    `data: ${config.dataDir}`
  ])
  // Runs until stopped by a signal, or until an admin's "Restart now": then the scope closes in order and we exit 75.
  yield* Context.get(app, KernelLifecycle).requested
  return "restart" as const
}).pipe(Effect.scoped)

/**
 * Effect's default scheduler lets up to 2,048 rounds of microtasks run before
 * Node's event loop gets a turn. In a burst of arrivals that starved sockets
 * and timers for 6 to 11 s (event-loop delay max, test/bench/throughput.bench.ts;
 * the profile shows one 11 s stretch inside the scheduler's drain).
 * MixedScheduler(32) cut that to a p99 of 70 to 90 ms on the loaded machine;
 * a 4 ms time slice (kernel/scheduler.ts) bounds it by time instead of rounds.
 */
const RESPONSIVE = new TimeSlicedScheduler(4)

const oneLine = (message: string) =>
  Effect.sync(() => {
    process.stderr.write(`lomi-allocator: ${message.split("\n")[0] ?? message}\n`)
    process.exitCode = 2
  })

NodeRuntime.runMain(
  withFiberCpu(program).pipe(
    Effect.catchAll((error) => oneLine("message" in error ? String(error.message) : String(error))),
    Effect.withScheduler(RESPONSIVE),
    // No tracer is exported, so spans (@effect/sql opens one per statement) are built for nobody.
    Effect.withTracerEnabled(false)
  ),
  {
    teardown: (exit, onExit) =>
      onExit(
        Exit.isSuccess(exit) && exit.value === "restart"
          ? RESTART_EXIT_CODE
          : Exit.isFailure(exit) && !Exit.isInterrupted(exit)
            ? 1
            : 0
      )
  }
)
