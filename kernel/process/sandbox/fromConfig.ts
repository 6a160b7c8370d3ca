/**
 * Launcher options from the static config, for the execution host (and the
 * Slurm batch wrapper). The config file's own path is not in the config: pass
 * it in `hidden` so pipelines cannot read it (the data dir and the Firestore
 * credentials file are added here).
 */
import * as path from "node:path"
import type { StaticConfig } from "../../../schemas/config.ts"
import type { PlainLauncherOptions } from "../plainLauncher.ts"
import type { SandboxLauncherOptions } from "./launcher.ts"

export const sandboxLauncherOptionsFromConfig = (
  config: StaticConfig,
  overrides: Partial<SandboxLauncherOptions> = {}
): SandboxLauncherOptions => ({
  patientBaseDir: config.paths.patientBaseDir,
  userDataDir: config.paths.userDataDir,
  minicondaBase: config.paths.minicondaBase,
  pipelinesRoot: config.paths.pipelinesRoot,
  scratchRoot: config.sandbox.scratchRoot,
  bwrapPath: config.sandbox.bwrapPath,
  cacheDir: config.sandbox.cacheDir,
  repoWriteWhitelist: config.sandbox.repoWriteWhitelist,
  limits: Object.fromEntries(Object.entries(config.services).map(([name, service]) => [name, service.limits])),
  ...overrides,
  hidden: [
    config.dataDir,
    ...(config.firestore.credentialsFile === undefined ? [] : [config.firestore.credentialsFile]),
    ...(overrides.hidden ?? [])
  ]
})

/** The plain launcher: real trees, the instance tag (the resolved data dir), explicit per-service time limits only. */
export const plainLauncherOptionsFromConfig = (
  config: StaticConfig,
  overrides: Partial<PlainLauncherOptions> = {}
): PlainLauncherOptions => ({
  patientBaseDir: config.paths.patientBaseDir,
  userDataDir: config.paths.userDataDir,
  minicondaBase: config.paths.minicondaBase,
  instance: path.resolve(config.dataDir),
  timeLimitSeconds: Object.fromEntries(Object.entries(config.services).map(([name, service]) => [name, service.limits?.timeLimitSeconds])),
  ...overrides
})
