/**
 * Static configuration: a JSON file (LOMI_CONFIG) validated by Schema, with a
 * few environment overrides. A bad file stops start-up with one line naming
 * the problem.
 */
import { Context, Data, Effect, Either, Layer, ParseResult, Schema } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { createServer } from "node:net"
import { isAbsolute, resolve } from "node:path"
import { StaticConfig } from "../schemas/config.ts"
import { SERVICES } from "../schemas/job.ts"
import { parseHash } from "./http/passwords.ts"

export class ConfigInvalid extends Data.TaggedError("ConfigInvalid")<{ readonly message: string }> {}

export class AppConfig extends Context.Tag("kernel/AppConfig")<AppConfig, StaticConfig>() {}

const decode = Schema.decodeUnknownEither(StaticConfig, { onExcessProperty: "error", errors: "first" })

/** Control characters (a stray CR in a quoted snippet) would break the one-line message. */
const printable = (text: string) => text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, " ")

/** The first problem as one line: `path.to.key: what is wrong`. */
const firstProblem = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  if (first === undefined) return "invalid configuration"
  const path = printable(first.path.map(String).join(".")).slice(0, 80)
  const text = printable(first.message)
  const message = text.length > 160 ? `${text.slice(0, 160)}…` : text
  return path === "" ? message : `${path}: ${message}`
}

const objectAt = (raw: Record<string, unknown>, key: string): Record<string, unknown> => {
  const value = raw[key]
  return typeof value === "object" && value !== null && !Array.isArray(value) ? { ...(value as Record<string, unknown>) } : {}
}

/**
 * LOMI_HTTP_HOST / LOMI_HTTP_PORT / LOMI_DATA_DIR override the file.
 * LOMI_DEMO_SMTP_PORT overrides the embedded demo's mail sink port (0: a free
 * one, picked at load), so two demos can run side by side. When the file
 * names no `mail.dashboardUrl`, email links point at the dashboard as it is
 * actually bound, not at a fixed :8080.
 */
const envOverrides = (raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> => {
  const http = objectAt(raw, "http")
  if (env.LOMI_HTTP_HOST !== undefined) http.host = env.LOMI_HTTP_HOST
  if (env.LOMI_HTTP_PORT !== undefined) http.port = Number(env.LOMI_HTTP_PORT)
  const out: Record<string, unknown> = { ...raw, http }
  if (env.LOMI_DATA_DIR !== undefined) out.dataDir = env.LOMI_DATA_DIR
  if (raw.mail !== undefined) {
    const mail = objectAt(raw, "mail")
    const embedded = objectAt(raw, "firestore").mode === "embedded"
    if (embedded && env.LOMI_DEMO_SMTP_PORT !== undefined) mail.port = Number(env.LOMI_DEMO_SMTP_PORT)
    if (mail.dashboardUrl === undefined) {
      const host = typeof http.host === "string" && http.host !== "0.0.0.0" && http.host !== "" ? http.host : "127.0.0.1"
      const port = http.port ?? 8080
      mail.dashboardUrl = `http://${host.includes(":") ? `[${host}]` : host}:${String(port)}`
    }
    out.mail = mail
  }
  return out
}

/**
 * A zone in ICU's list (or UTC) is known good without building a formatter:
 * a DateTimeFormat pages in ~7 MiB of ICU locale data, a tenth of the
 * dashboard server's memory budget at rest (issue 12). Aliases ("Etc/UTC",
 * "US/Eastern") still go through the formatter.
 */
const validTimezone = (zone: string): boolean => {
  if (zone === "UTC" || Intl.supportedValuesOf("timeZone").includes(zone)) return true
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone })
    return true
  } catch {
    return false
  }
}

/** What the schema cannot say: a real zone, usable users. The first problem, as one line. */
const semanticProblem = (config: StaticConfig): string | undefined => {
  if (!validTimezone(config.timezone)) {
    return `config timezone: ${JSON.stringify(config.timezone.slice(0, 60))} is not an IANA time zone (e.g. "UTC", "Asia/Tokyo")`
  }
  const seen = new Set<string>()
  for (const [i, user] of config.http.users.entries()) {
    if (user.name.trim() === "") return `config http.users.${i}.name: must not be empty`
    if (seen.has(user.name)) return `config http.users.${i}.name: ${JSON.stringify(user.name.slice(0, 60))} appears twice`
    seen.add(user.name)
    if (parseHash(user.passwordHash) === undefined) {
      return `config http.users.${i}.passwordHash: not an scrypt:<salt-hex>:<hash-hex> hash (see README, "Users")`
    }
  }
  return undefined
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
    return Either.left(new ConfigInvalid({ message: `config is not valid JSON: ${printable((e as Error).message).slice(0, 160)}` }))
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return Either.left(new ConfigInvalid({ message: "config must be a JSON object" }))
  }
  return decode(envOverrides(raw as Record<string, unknown>, env)).pipe(
    Either.mapLeft((e) => new ConfigInvalid({ message: `config ${firstProblem(e)}` })),
    Either.flatMap((c) => {
      const problem = semanticProblem(c)
      return problem === undefined ? Either.right(c) : Either.left(new ConfigInvalid({ message: problem }))
    }),
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
    const config = yield* parseConfig(text, resolve(file, ".."), env)
    if (config.firestore.mode !== "embedded" || config.mail.port !== 0) return config
    return { ...config, mail: { ...config.mail, port: yield* freePort(config.mail.host) } }
  })

/** A port nobody listens on right now (the OS picks it), for a demo mail sink asked for port 0. */
const freePort = (host: string) =>
  Effect.async<number, ConfigInvalid>((resume) => {
    const server = createServer()
    server.once("error", (e) => resume(Effect.fail(new ConfigInvalid({ message: `no free port for the demo mail sink: ${e.message}` }))))
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resume(Effect.succeed(port)))
    })
  })

export const appConfigLayer = (config: StaticConfig) => Layer.succeed(AppConfig, config)
