/** Real HTTP servers on 127.0.0.1 free ports standing in for Gemini and the OCR API. */
import * as http from "node:http"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, type Scope } from "effect"
import type { HealthConfig } from "../../kernel/health/check.ts"

export interface TestHttpServer {
  readonly port: number
  readonly url: string
  /** Request URLs (path + query) in arrival order. */
  readonly requests: ReadonlyArray<string>
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void

export const startHttpServer = (handler: Handler): Effect.Effect<TestHttpServer, never, Scope.Scope> =>
  Effect.gen(function* () {
    const requests: Array<string> = []
    const server = http.createServer((req, res) => {
      requests.push(req.url ?? "")
      handler(req, res)
    })
    const port = yield* Effect.acquireRelease(
      Effect.async<number>((resume) => {
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
        })
      }),
      () =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    return {
      port,
      url: `http://127.0.0.1:${port}`,
      get requests() {
        return requests
      }
    }
  })

export const json =
  (status: number, body: unknown): Handler =>
  (_req, res) => {
    res.writeHead(status, { "content-type": "application/json" })
    res.end(JSON.stringify(body))
  }

/** Accepts the request and never answers. */
export const silent: Handler = () => undefined

/** A port nothing listens on: bound once, then released. */
export const closedPort: Effect.Effect<number> = Effect.scoped(
  Effect.map(
    startHttpServer(() => undefined),
    (s) => s.port
  )
)

/** A temporary directory, removed with the scope. */
export const tempDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "lomi-health-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

export const writeEnvFile = (dir: string, content: string): Effect.Effect<string> =>
  Effect.promise(async () => {
    const path = join(dir, ".env")
    await writeFile(path, content, "utf8")
    return path
  })

export const healthConfig = (overrides: Partial<HealthConfig>): HealthConfig => ({
  geminiBaseUrl: "http://127.0.0.1:9",
  ocrUrl: "http://127.0.0.1:9",
  ttlSeconds: 60,
  timeoutMs: 2_000,
  ...overrides
})
