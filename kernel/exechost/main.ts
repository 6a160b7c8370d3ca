/**
 * The execution host: `node kernel/exechost/main.ts [config.json]` (or
 * LOMI_CONFIG; the embedded demo's config without either). Serves
 * `<dataDir>/exechost.sock` until SIGTERM/SIGINT. Stopping the host never
 * stops a pipeline (each runs under its own monitor); the explicit
 * "stop all pipelines" is the StopAll request. Usually started by the
 * kernel's client (detached) or by its own systemd unit (see README).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Data, Effect } from "effect"
import { fileURLToPath } from "node:url"
import { loadConfigFile } from "../config.ts"
import { serve } from "../ipc/server.ts"
import { makeHost } from "./host.ts"
import { hostLaunchers, locateMonitor } from "./launchers.ts"
import { holdHostLock } from "./lock.ts"
import { HostProtocol, hostSocket } from "./protocol.ts"

class HostRefused extends Data.TaggedError("HostRefused")<{ readonly message: string }> {}

const DEMO_CONFIG = fileURLToPath(new URL("../../fixtures/demo/config.json", import.meta.url))
const configFile = process.argv[2] ?? process.env.LOMI_CONFIG ?? DEMO_CONFIG

const program = Effect.gen(function* () {
  const config = yield* loadConfigFile(configFile)
  const monitorPath = locateMonitor()
  if (monitorPath === undefined) {
    return yield* new HostRefused({ message: "lomi-monitor not found: run `make monitor` (or set LOMI_MONITOR)" })
  }
  yield* holdHostLock(config.dataDir)
  const host = yield* makeHost({ dataDir: config.dataDir, monitorPath, launcherFor: hostLaunchers(config, configFile) })
  const socketPath = hostSocket(config.dataDir)
  const server = yield* serve({ socketPath, protocol: HostProtocol, handlers: host.handlers, onConnect: host.onConnect })
  host.setPublish(server.publish)
  yield* Effect.log(`execution host listening on ${socketPath} (pid ${process.pid})`)
  return yield* Effect.never
}).pipe(Effect.scoped)

NodeRuntime.runMain(
  program.pipe(
    Effect.catchAll((error) =>
      Effect.sync(() => {
        process.stderr.write(`lomi-exechost: ${error.message.split("\n")[0] ?? error.message}\n`)
        process.exitCode = 2
      })
    ),
    // No tracer is exported: the sandbox launcher's spans would be built for nobody.
    Effect.withTracerEnabled(false)
  )
)
