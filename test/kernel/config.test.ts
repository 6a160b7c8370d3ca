import { describe, expect, it } from "vitest"
import { Effect, Either } from "effect"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { loadConfigFile, parseConfig } from "../../kernel/config.ts"

const demoDir = fileURLToPath(new URL("../../fixtures/demo/", import.meta.url))
const demo = (): Record<string, unknown> => JSON.parse(readFileSync(join(demoDir, "config.json"), "utf8"))
const problem = (raw: unknown, env: NodeJS.ProcessEnv = {}) => {
  const parsed = parseConfig(typeof raw === "string" ? raw : JSON.stringify(raw), demoDir, env)
  return Either.isLeft(parsed) ? parsed.left.message : undefined
}

describe("static configuration", () => {
  it("the demo configuration is valid and its paths resolve against its own folder", () => {
    const parsed = parseConfig(JSON.stringify(demo()), demoDir, {})
    expect(Either.isRight(parsed)).toBe(true)
    if (Either.isRight(parsed)) {
      expect(parsed.right.services["Gen-Decoder"].script).toBe(join(demoDir, "pipelines/run_gen_decoder.sh"))
      expect(parsed.right.http.port).toBe(8080)
    }
  })

  it("an unknown key is named", () => {
    expect(problem({ ...demo(), maxWorkers: 4 })).toMatch(/^config maxWorkers: is unexpected/)
  })

  it("a wrong type is named with its path", () => {
    const message = problem({ ...demo(), mail: { ...(demo().mail as object), port: "25" } })
    expect(message).toMatch(/^config mail\.port: Expected number, actual "25"/)
  })

  it("a missing script is named with its path", () => {
    const services = demo().services as Record<string, { script: string }>
    const message = problem({ ...demo(), services: { ...services, "Epi-Insight": { script: "pipelines/nope.sh" } } })
    expect(message).toBe(`config services.Epi-Insight.script: file not found: ${join(demoDir, "pipelines/nope.sh")}`)
  })

  it("malformed JSON is one clear line", () => {
    expect(problem("{ not json")).toMatch(/^config is not valid JSON: /)
  })

  it("environment overrides the HTTP binding and data directory", () => {
    const parsed = parseConfig(JSON.stringify(demo()), demoDir, { LOMI_HTTP_PORT: "9090", LOMI_DATA_DIR: "/tmp/x" })
    expect(Either.isRight(parsed) && parsed.right.http.port).toBe(9090)
    expect(Either.isRight(parsed) && parsed.right.dataDir).toBe("/tmp/x")
  })

  it("a non-numeric LOMI_HTTP_PORT is refused", () => {
    expect(problem(demo(), { LOMI_HTTP_PORT: "eighty" })).toMatch(/^config http\.port: /)
  })

  it("a JSON array instead of an object is refused", () => {
    expect(problem("[]")).toBe("config must be a JSON object")
  })

  it("a config file that cannot be read is one line naming it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lomi-config-"))
    const exit = await Effect.runPromiseExit(loadConfigFile(join(dir, "missing.json"), {}))
    expect(JSON.stringify(exit)).toContain(`cannot read config ${join(dir, "missing.json")}`)
    writeFileSync(join(dir, "ok.json"), "{}")
    const empty = await Effect.runPromiseExit(loadConfigFile(join(dir, "ok.json"), {}))
    expect(JSON.stringify(empty)).toContain("config dataDir: is missing")
  })
})

describe("configuration refused at start-up, one line each", () => {
  const withUsers = (users: ReadonlyArray<Record<string, unknown>>) => ({ ...demo(), http: { host: "127.0.0.1", port: 8080, users } })
  const HASH = `scrypt:${"ab".repeat(16)}:${"cd".repeat(32)}`

  it("an invalid timezone is refused before anything starts", () => {
    expect(problem({ ...demo(), timezone: "Mars/Olympus" })).toBe(
      'config timezone: "Mars/Olympus" is not an IANA time zone (e.g. "UTC", "Asia/Tokyo")'
    )
    expect(problem({ ...demo(), timezone: "Asia/Tokyo" })).toBeUndefined()
    // Aliases outside ICU's canonical list (kernel/config.ts checks that list first) are zones too.
    expect(problem({ ...demo(), timezone: "US/Eastern" })).toBeUndefined()
    expect(problem({ ...demo(), timezone: "Etc/UTC" })).toBeUndefined()
  })

  it("a user with a malformed passwordHash is refused", () => {
    expect(problem(withUsers([{ name: "ann", role: "admin", passwordHash: "plaintext" }]))).toBe(
      'config http.users.0.passwordHash: not an scrypt:<salt-hex>:<hash-hex> hash (see README, "Users")'
    )
  })

  it("duplicate and empty user names are refused", () => {
    expect(
      problem(withUsers([{ name: "ann", role: "admin", passwordHash: HASH }, { name: "ann", role: "viewer", passwordHash: HASH }]))
    ).toBe('config http.users.1.name: "ann" appears twice')
    expect(problem(withUsers([{ name: " ", role: "admin", passwordHash: HASH }]))).toBe("config http.users.0.name: must not be empty")
  })

  it("a huge wrong value is not echoed back in full", () => {
    const message = problem({ ...demo(), timezone: "x".repeat(1_000_000) }) ?? ""
    expect(message.length).toBeLessThanOrEqual(200)
    const typeError = problem({ ...demo(), dataDir: ["y".repeat(1_000_000)] }) ?? ""
    expect(typeError).toMatch(/^config dataDir: /)
    expect(typeError.length).toBeLessThanOrEqual(200)
  })
})

describe("demo ports", () => {
  it("LOMI_DEMO_SMTP_PORT moves the demo mail sink; email links follow the dashboard's real port", () => {
    const parsed = parseConfig(JSON.stringify(demo()), demoDir, { LOMI_DEMO_SMTP_PORT: "2626", LOMI_HTTP_PORT: "9191" })
    expect(Either.isRight(parsed) && parsed.right.mail.port).toBe(2626)
    expect(Either.isRight(parsed) && parsed.right.mail.dashboardUrl).toBe("http://127.0.0.1:9191")
  })

  it("LOMI_DEMO_SMTP_PORT=0 picks a free port at load", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lomi-config-"))
    const file = join(dir, "demo.json")
    const raw = demo()
    const services = raw.services as Record<string, { script: string }>
    writeFileSync(
      file,
      JSON.stringify({
        ...raw,
        services: Object.fromEntries(Object.entries(services).map(([k, v]) => [k, { ...v, script: join(demoDir, v.script) }]))
      })
    )
    const config = await Effect.runPromise(loadConfigFile(file, { LOMI_DEMO_SMTP_PORT: "0" }))
    expect(config.mail.port).toBeGreaterThan(0)
    expect(config.mail.port).not.toBe(2525)
  })
})
