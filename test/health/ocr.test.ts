import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { checkOcr } from "../../kernel/health/ocr.ts"
import { closedPort, healthConfig, json, silent, startHttpServer } from "./support.ts"

describe("OCR health check", () => {
  it.scopedLive("a 2xx from /health is healthy", () =>
    Effect.gen(function* () {
      const server = yield* startHttpServer(json(200, { status: "ok" }))
      const result = yield* checkOcr(healthConfig({ ocrUrl: `${server.url}/` }))
      expect(result).toMatchObject({ name: "ocr", ok: true })
      expect(result.detail).toContain("HTTP 200")
      expect(result.model).toBeUndefined()
      expect(server.requests).toEqual(["/health"])
    })
  )

  it.scopedLive("an HTTP 500 is unhealthy", () =>
    Effect.gen(function* () {
      const server = yield* startHttpServer(json(500, { status: "model not loaded" }))
      const result = yield* checkOcr(healthConfig({ ocrUrl: server.url }))
      expect(result).toMatchObject({ name: "ocr", ok: false })
      expect(result.detail).toContain("HTTP 500")
      expect(result.detail).toContain("model not loaded")
    })
  )

  it.scopedLive("a server that never answers times out", () =>
    Effect.gen(function* () {
      const server = yield* startHttpServer(silent)
      const started = performance.now()
      const result = yield* checkOcr(healthConfig({ ocrUrl: server.url, timeoutMs: 300 }))
      expect(performance.now() - started).toBeLessThan(3_000)
      expect(result.ok).toBe(false)
      expect(result.detail).toContain("timed out after 300 ms")
    })
  )

  it.scopedLive("connection refused is unhealthy", () =>
    Effect.gen(function* () {
      const port = yield* closedPort
      const result = yield* checkOcr(healthConfig({ ocrUrl: `http://127.0.0.1:${port}` }))
      expect(result.ok).toBe(false)
      expect(result.detail).toBe(`OCR API http://127.0.0.1:${port}: connection refused`)
    })
  )
})
