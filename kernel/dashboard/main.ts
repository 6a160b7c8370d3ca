/**
 * The dashboard server: `node kernel/dashboard/main.ts [config.json]` (or
 * LOMI_CONFIG; without either, the embedded demo's), the same config file as
 * the kernel. It serves the API, sessions, SSE and the built UI on
 * config.http.host:port, reads `<dataDir>/allocator.db` read-only and talks
 * to the kernel over `<dataDir>/control.sock`.
 *
 * It starts and keeps serving whether or not the kernel is up (rule 12):
 * reads answer from the database, commands answer 503 until the kernel's
 * socket is back. A configuration or start-up problem prints one line and
 * exits 2.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { fileURLToPath } from "node:url"
import { loadConfigFile } from "../config.ts"
import { loginNotice } from "../http/auth.ts"
import { TimeSlicedScheduler } from "../scheduler.ts"
import { dashboardLayer } from "./layer.ts"

const DEMO_CONFIG = fileURLToPath(new URL("../../fixtures/demo/config.json", import.meta.url))
const UI_DIST = fileURLToPath(new URL("../../ui/dist", import.meta.url))
const configFile = process.argv[2] ?? process.env.LOMI_CONFIG ?? DEMO_CONFIG

const banner = (lines: ReadonlyArray<string>) =>
  Effect.sync(() => process.stdout.write(`\n${lines.map((l) => `  ${l}`).join("\n")}\n\n`))

const program = Effect.gen(function* () {
  const config = yield* loadConfigFile(configFile)
  const app = yield* Layer.build(dashboardLayer(config, { staticDir: UI_DIST }))
  yield* banner([`dashboard: http://${config.http.host}:${config.http.port}/`, yield* Effect.provide(loginNotice, app)])
  return yield* Effect.never
}).pipe(Effect.scoped)

const oneLine = (message: string) =>
  Effect.sync(() => {
    process.stderr.write(`lomi-dashboard: ${message.split("\n")[0] ?? message}\n`)
    process.exitCode = 2
  })

/**
 * The kernel's time-sliced scheduler (kernel/scheduler.ts), for the same
 * reason: under a flood of requests Effect's default let fibers run for
 * hundreds of milliseconds before Node read a socket, accepted a
 * connection or flushed an event stream.
 */
const RESPONSIVE = new TimeSlicedScheduler(4)

NodeRuntime.runMain(
  program.pipe(
    Effect.catchAll((error) => oneLine("message" in error ? String(error.message) : String(error))),
    Effect.withScheduler(RESPONSIVE),
    // No tracer is exported: the HTTP server's span per request and @effect/sql's per statement were built for nobody.
    Effect.withTracerEnabled(false)
  )
)
