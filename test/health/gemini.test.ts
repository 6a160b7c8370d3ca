import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { checkGemini } from "../../kernel/health/gemini.ts"
import { HealthResult } from "../../schemas/health.ts"
import { healthConfig, json, silent, startHttpServer, tempDir, writeEnvFile } from "./support.ts"

const KEY = "AIzaSy-test-key/with+odd=chars"

const MODELS = {
  models: [
    { name: "models/embedding-001", supportedGenerationMethods: ["embedContent"] },
    { name: "models/aqa" },
    { name: "models/gemini-9.9-flash", supportedGenerationMethods: ["generateContent", "countTokens"] },
    { name: "models/gemini-9.9-pro", supportedGenerationMethods: ["generateContent"] }
  ]
}

const isHealthResult = Schema.is(HealthResult)

/** Gemini stand-in plus an env file holding `envContent`. */
const setup = (handler: Parameters<typeof startHttpServer>[0], envContent = `GEMINI_API_KEY=${KEY}\n`, timeoutMs = 2_000) =>
  Effect.gen(function* () {
    const server = yield* startHttpServer(handler)
    const dir = yield* tempDir
    const envFile = yield* writeEnvFile(dir, envContent)
    return { server, config: healthConfig({ geminiBaseUrl: server.url, geminiEnvFile: envFile, timeoutMs }), dir }
  })

describe("Gemini health check", () => {
  it.scopedLive("picks the first generateContent model from the list, never a fixed name", () =>
    Effect.gen(function* () {
      const { config, server } = yield* setup(json(200, MODELS))
      const result = yield* checkGemini(config)
      expect(isHealthResult(result)).toBe(true)
      expect(result).toMatchObject({ name: "gemini", ok: true, model: "gemini-9.9-flash" })
      expect(result.detail).toContain("gemini-9.9-flash")
      expect(new Date(result.checkedAt).toISOString()).toBe(result.checkedAt)
      expect(result.latencyMs).toBeGreaterThanOrEqual(0)
      expect(server.requests).toEqual([`/v1beta/models?key=${encodeURIComponent(KEY)}`])
      expect(JSON.stringify(result)).not.toContain("AIzaSy")
    })
  )

  it.scopedLive("follows nextPageToken when the first page has no generateContent model", () =>
    Effect.gen(function* () {
      const { config, server } = yield* setup((req, res) => {
        const page2 = (req.url ?? "").includes("pageToken=p2")
        json(
          200,
          page2
            ? { models: [{ name: "models/gemini-next", supportedGenerationMethods: ["generateContent"] }] }
            : { models: [{ name: "models/embedding-001", supportedGenerationMethods: ["embedContent"] }], nextPageToken: "p2" }
        )(req, res)
      })
      const result = yield* checkGemini(config)
      expect(result).toMatchObject({ ok: true, model: "gemini-next" })
      expect(server.requests).toHaveLength(2)
    })
  )

  it.scopedLive("accepts GOOGLE_API_KEY, and prefers GEMINI_API_KEY when both are set", () =>
    Effect.gen(function* () {
      const google = yield* setup(json(200, MODELS), `# pipeline env\nexport GOOGLE_API_KEY="google-key"\n`)
      expect(yield* checkGemini(google.config)).toMatchObject({ ok: true })
      expect(google.server.requests[0]).toContain("key=google-key")

      const both = yield* setup(json(200, MODELS), `GOOGLE_API_KEY=google-key\nGEMINI_API_KEY='gemini-key'\n`)
      expect(yield* checkGemini(both.config)).toMatchObject({ ok: true })
      expect(both.server.requests[0]).toContain("key=gemini-key")
    })
  )

  it.scopedLive("no generateContent model is unhealthy", () =>
    Effect.gen(function* () {
      const { config } = yield* setup(
        json(200, { models: [{ name: "models/embedding-001", supportedGenerationMethods: ["embedContent"] }] })
      )
      const result = yield* checkGemini(config)
      expect(result.ok).toBe(false)
      expect(result.model).toBeUndefined()
      expect(result.detail).toContain("no model supporting generateContent among 1 listed")
    })
  )

  it.scopedLive("an HTTP 500 is unhealthy with the status in the detail", () =>
    Effect.gen(function* () {
      const { config } = yield* setup(json(500, { error: { code: 500, message: "Internal error encountered." } }))
      const result = yield* checkGemini(config)
      expect(result).toMatchObject({ name: "gemini", ok: false })
      expect(result.detail).toContain("HTTP 500")
      expect(result.detail).toContain("Internal error encountered.")
    })
  )

  it.scopedLive("a rejected key is unhealthy and the key never shows, even when the server echoes it", () =>
    Effect.gen(function* () {
      const { config } = yield* setup(
        json(400, { error: { code: 400, message: `API key not valid: ${KEY} / ${encodeURIComponent(KEY)}` } })
      )
      const result = yield* checkGemini(config)
      expect(result.ok).toBe(false)
      expect(result.detail).toContain("HTTP 400")
      expect(result.detail).toContain("API key not valid")
      expect(result.detail).not.toContain(KEY)
      expect(result.detail).not.toContain(encodeURIComponent(KEY))
      expect(result.detail).not.toContain("AIzaSy")
    })
  )

  it.scopedLive("a body that is not a model list is unhealthy", () =>
    Effect.gen(function* () {
      const { config } = yield* setup((_req, res) => res.end("<html>proxy login</html>"))
      const result = yield* checkGemini(config)
      expect(result.ok).toBe(false)
      expect(result.detail).toContain("not a model list")
    })
  )

  it.scopedLive("a server that never answers times out", () =>
    Effect.gen(function* () {
      const { config } = yield* setup(silent, `GEMINI_API_KEY=${KEY}\n`, 300)
      const started = performance.now()
      const result = yield* checkGemini(config)
      expect(performance.now() - started).toBeLessThan(3_000)
      expect(result).toMatchObject({ ok: false, detail: "Gemini models list: timed out after 300 ms" })
    })
  )

  it.scopedLive("a missing env file, a file without a key, or no file configured are unhealthy without a request", () =>
    Effect.gen(function* () {
      const server = yield* startHttpServer(json(200, MODELS))
      const dir = yield* tempDir

      const missing = yield* checkGemini(healthConfig({ geminiBaseUrl: server.url, geminiEnvFile: `${dir}/nope/.env` }))
      expect(missing).toMatchObject({ ok: false, detail: `env file not found: ${dir}/nope/.env` })

      const noKeyFile = yield* writeEnvFile(dir, "OTHER=1\nGEMINI_API_KEY=\n# GEMINI_API_KEY=commented\n")
      const noKey = yield* checkGemini(healthConfig({ geminiBaseUrl: server.url, geminiEnvFile: noKeyFile }))
      expect(noKey.ok).toBe(false)
      expect(noKey.detail).toContain("no GEMINI_API_KEY or GOOGLE_API_KEY in")

      const unconfigured = yield* checkGemini(healthConfig({ geminiBaseUrl: server.url }))
      expect(unconfigured.ok).toBe(false)
      expect(unconfigured.detail).toContain("geminiEnvFile")

      expect(server.requests).toEqual([])
    })
  )
})
