/**
 * The dashboard's HTTP server listens before its app is attached (the
 * platform's server layer listens when it is built; the handler comes when
 * every other layer is ready). A request in that window is answered 503
 * with Retry-After, never left hanging; once the handler is attached it
 * answers as usual.
 */
import { describe, expect, it } from "vitest"
import type { AddressInfo } from "node:net"
import { BoundedServer } from "../../kernel/http/server.ts"

describe("a request while the dashboard server is starting", () => {
  it("gets 503 with Retry-After at once, then the app's answer once it is attached", async () => {
    const server = new BoundedServer(4, 4)
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    try {
      const { port } = server.address() as AddressInfo
      const early = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(10_000) })
      expect(early.status).toBe(503)
      expect(early.headers.get("retry-after")).toBe("1")
      expect(await early.json()).toEqual({ _tag: "Unavailable", message: "the dashboard server is starting; try again shortly" })

      server.on("request", (_request, response) => {
        response.writeHead(200, { "content-type": "text/plain" })
        response.end("ok")
      })
      const later = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(10_000) })
      expect(later.status).toBe(200)
      expect(await later.text()).toBe("ok")
    } finally {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
})
