/**
 * The host's launchers, from the static config. Plain always; the sandbox
 * once bubblewrap is found and works here (checked at its first use and
 * remembered once it succeeds). The kernel says per Start which one a run
 * gets (its SANDBOX_ENABLED); the host records that with the run so the same
 * launcher finishes it after any restart.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import type { StaticConfig } from "../../schemas/config.ts"
import { SpawnError } from "../ports/executor.ts"
import type { Launcher } from "../process/launch.ts"
import { makePlainLauncher } from "../process/plainLauncher.ts"
import { sandboxLauncherOptionsFromConfig } from "../process/sandbox.ts"
import { makeSandboxLauncher } from "../process/sandbox/launcher.ts"
import { checkBwrap } from "../process/select.ts"

export const hostLaunchers = (
  config: StaticConfig,
  configFile?: string
): ((sandbox: boolean, discard?: (dir: string) => void) => Effect.Effect<Launcher, SpawnError>) => {
  const timeLimitSeconds = Object.fromEntries(
    Object.entries(config.services).map(([name, service]) => [name, service.limits?.timeLimitSeconds])
  )
  const plain = makePlainLauncher({
    patientBaseDir: config.paths.patientBaseDir,
    userDataDir: config.paths.userDataDir,
    minicondaBase: config.paths.minicondaBase,
    instance: path.resolve(config.dataDir),
    timeLimitSeconds
  })
  let sandbox: Launcher | undefined
  const sandboxed = (discard: ((dir: string) => void) | undefined) => Effect.suspend(() =>
    sandbox !== undefined
      ? Effect.succeed(sandbox)
      : checkBwrap(config.sandbox.bwrapPath).pipe(
          Effect.map((bwrapPath) => {
            sandbox = makeSandboxLauncher({
              ...sandboxLauncherOptionsFromConfig(config, { bwrapPath, ...(configFile === undefined ? {} : { hidden: [configFile] }) }),
              // The host lives on, and its next start's recover removes what a crash left.
              releaseInBackground: true,
              // A few run dirs made ahead, beside the starts (a start then renames one into place).
              poolSize: 4,
              ...(discard === undefined ? {} : { discard })
            })
            return sandbox
          }),
          Effect.mapError((e) => new SpawnError({ message: e.message }))
        )
  )
  return (on, discard) => (on ? sandboxed(discard) : Effect.succeed(plain))
}

/** LOMI_MONITOR, else `.build/lomi-monitor` in the nearest directory above this module that has one (built by make). */
export const locateMonitor = (): string | undefined => {
  const fromEnv = process.env.LOMI_MONITOR
  if (fromEnv !== undefined && fromEnv !== "") return path.resolve(fromEnv)
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = path.join(dir, ".build", "lomi-monitor")
    if (fs.existsSync(candidate)) return candidate
    const parent = path.dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}
