/**
 * The production program: the allocator on real ports. In embedded mode the
 * Firestore emulator (seeded with the demo) and a mail sink start in process.
 */
import { Data, Effect, Layer } from "effect"
import { join } from "node:path"
import type { StaticConfig } from "../schemas/config.ts"
import { AppConfig } from "./config.ts"
import { EventBus } from "./events.ts"
import { liveFirestoreLayerFromConfig } from "./firestore/live.ts"
import { controlServerLayer } from "./control/server.ts"
import { healthChecksLayer } from "./http/health.ts"
import { SmtpMailerLive } from "./mail/smtp.ts"
import { databaseFile } from "./paths.ts"
import { processSamplerLayer } from "./processStats.ts"
import { checkBwrap } from "./process/select.ts"
import { KernelLifecycle } from "./restart.ts"
import { ExecHostExecutorLive } from "./exechost/client.ts"
import { slurmExecutorLayer } from "./process/slurm/layer.ts"
import { allocatorLayer } from "./runtime.ts"
import { TunableStore } from "./store/tunables.ts"

export class StartupRefused extends Data.TaggedError("StartupRefused")<{ readonly message: string }> {}

/** LOMI_SANDBOX_ENABLED is only the start-up default: a value stored from the dashboard wins. */
const sandboxDefaultFromEnv = (value: string | undefined) =>
  Effect.gen(function* () {
    if (value === undefined || value === "") return
    if (value !== "0" && value !== "1") {
      return yield* new StartupRefused({ message: `LOMI_SANDBOX_ENABLED must be 0 or 1, got ${JSON.stringify(value)}` })
    }
    yield* (yield* TunableStore).seedDefault("SANDBOX_ENABLED", Number(value))
  })

const processPortLayer = (config: StaticConfig) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      yield* sandboxDefaultFromEnv(process.env.LOMI_SANDBOX_ENABLED)
      if (config.executor?.kind === "slurm") return slurmExecutorLayer(config, config.executor)
      const t = yield* (yield* TunableStore).get
      // Pipelines belong to the execution host (started here when none runs); a sandbox that cannot work refuses start-up.
      const sandbox = t.SANDBOX_ENABLED === 1
      if (!sandbox) return ExecHostExecutorLive(config, sandbox)
      // Under the launcher (LOMI_EXECHOST_EXTERNAL=1) the host is its own process: the test run of bwrap and the
      // wait for the host's socket go side by side (Layer.merge builds concurrently), not one after the other on
      // the way to ready. Otherwise the client may start a host (detached, it outlives us), so the check comes
      // first: a refused start-up leaves no host behind.
      if (process.env.LOMI_EXECHOST_EXTERNAL === "1") {
        return Layer.merge(ExecHostExecutorLive(config, sandbox), Layer.effectDiscard(checkBwrap(config.sandbox.bwrapPath)))
      }
      yield* checkBwrap(config.sandbox.bwrapPath)
      return ExecHostExecutorLive(config, sandbox)
    })
  )

/**
 * The demo's Firestore emulator and mail sink, imported only in embedded mode:
 * a production kernel never loads the emulator's or smtp-server's code (the
 * build puts a dynamic import in a chunk of its own; issue 12, memory at rest).
 */
const demoPortsLayer = (config: StaticConfig) =>
  Layer.unwrapEffect(
    Effect.promise(async () => {
      const [{ embeddedFirestoreLayer }, { demoMailSinkLayer }] = await Promise.all([import("./firestore/embedded.ts"), import("./demo/mailSink.ts")])
      return Layer.merge(embeddedFirestoreLayer(config), demoMailSinkLayer(config.mail.host, config.mail.port, join(config.dataDir, "demo-mail")))
    })
  )

export const portsLayer = (config: StaticConfig) => {
  const world = config.firestore.mode === "embedded" ? demoPortsLayer(config) : liveFirestoreLayerFromConfig(config)
  return Layer.mergeAll(world, SmtpMailerLive(config.mail), EventBus.Default, Layer.succeed(AppConfig, config))
}

/**
 * The allocator, its ports, and the control socket (`<dataDir>/control.sock`)
 * through which the dashboard server (kernel/dashboard/main.ts, its own
 * process) sends commands and receives events. The kernel serves no HTTP.
 */
export const applicationLayer = (config: StaticConfig) =>
  controlServerLayer(config.dataDir).pipe(
    Layer.provideMerge(Layer.mergeAll(healthChecksLayer(config), processSamplerLayer("kernel"), KernelLifecycle.Default)),
    Layer.provideMerge(allocatorLayer(databaseFile(config.dataDir), processPortLayer(config))),
    Layer.provideMerge(portsLayer(config))
  )
