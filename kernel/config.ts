/**
 * Static configuration: a JSON file (LOMI_CONFIG) validated by Schema, with a
 * few environment overrides. A bad file stops start-up with one line naming
 * the problem.
 */
import { Context, Data, Effect, Either, Layer, ParseResult, Schema } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { isAbsolute, resolve } from "node:path"
import { StaticConfig } from "../schemas/config.ts"
import { SERVICES } from "../schemas/job.ts"

export class ConfigInvalid extends Data.TaggedError("ConfigInvalid")<{ readonly message: string }> {}

export class AppConfig extends Context.Tag("kernel/AppConfig")<AppConfig, StaticConfig>() {}

const decode = Schema.decodeUnknownEither(StaticConfig, { onExcessProperty: "error", errors: "first" })

/** The first problem as one line: `path.to.key: what is wrong`. */
const firstProblem = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  if (first === undefined) return "invalid configuration"
  const path = first.path.map(String).join(".")
  return path === "" ? first.message : `${path}: ${first.message}`
}

const envOverrides = (raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> => {
  const http = { ...((raw.http as Record<string, unknown> | undefined) ?? {}) }
  if (env.LOMI_HTTP_HOST !== undefined) http.host = env.LOMI_HTTP_HOST
  if (env.LOMI_HTTP_PORT !== undefined) http.port = Number(env.LOMI_HTTP_PORT)
  const out: Record<string, unknown> = { ...raw, http }
  if (env.LOMI_DATA_DIR !== undefined) out.dataDir = env.LOMI_DATA_DIR
  return out
}

/** Paths in the file are relative to the file's own folder. */
const resolvePaths = (config: StaticConfig, base: string): StaticConfig => {
  const abs = (p: string) => (p === "" || isAbsolute(p) ? p : resolve(base, p))
  const services = Object.fromEntries(
    SERVICES.map((s) => [s, { ...config.services[s], script: abs(config.services[s].script) }])
  ) as StaticConfig["services"]
  return {
    ...config,
    dataDir: abs(config.dataDir),
    services,
    paths: {
      ...config.paths,
      patientBaseDir: abs(config.paths.patientBaseDir),
      userDataDir: abs(config.paths.userDataDir),
      pipelinesRoot: abs(config.paths.pipelinesRoot)
    },
    sandbox: {
      ...config.sandbox,
      scratchRoot: abs(config.sandbox.scratchRoot),
      ...(config.sandbox.cacheDir ? { cacheDir: abs(config.sandbox.cacheDir) } : {})
    },
    health: { ...config.health, ...(config.health.geminiEnvFile ? { geminiEnvFile: abs(config.health.geminiEnvFile) } : {}) }
  }
}

export const parseConfig = (
  text: string,
  base: string,
  env: NodeJS.ProcessEnv
): Either.Either<StaticConfig, ConfigInvalid> => {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    return Either.left(new ConfigInvalid({ message: `config is not valid JSON: ${(e as Error).message}` }))
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return Either.left(new ConfigInvalid({ message: "config must be a JSON object" }))
  }
  return decode(envOverrides(raw as Record<string, unknown>, env)).pipe(
    Either.mapLeft((e) => new ConfigInvalid({ message: `config ${firstProblem(e)}` })),
    Either.map((c) => resolvePaths(c, base)),
    Either.flatMap((c) => {
      const missing = SERVICES.find((s) => !existsSync(c.services[s].script))
      return missing === undefined
        ? Either.right(c)
        : Either.left(
            new ConfigInvalid({ message: `config services.${missing}.script: file not found: ${c.services[missing].script}` })
          )
    })
  )
}

export const loadConfigFile = (file: string, env: NodeJS.ProcessEnv = process.env) =>
  Effect.gen(function* () {
    const text = yield* Effect.try({
      try: () => readFileSync(file, "utf8"),
      catch: (e) => new ConfigInvalid({ message: `cannot read config ${file}: ${(e as Error).message}` })
    })
    return yield* parseConfig(text, resolve(file, ".."), env)
  })

export const appConfigLayer = (config: StaticConfig) => Layer.succeed(AppConfig, config)
