/**
 * The page's fetch (ui/src/data/retryingFetch.ts): a 503 with Retry-After is
 * the dashboard server at its bound and is asked again after the time it
 * names; any other answer, and a 503 without Retry-After, is returned as is.
 */
import { describe, expect, it } from "vitest"
import { retryingFetch } from "../../ui/src/data/retryingFetch.ts"

const answer = (status: number, retryAfter?: string) =>
  new Response(status === 200 ? "ok" : "busy", { status, headers: retryAfter === undefined ? {} : { "retry-after": retryAfter } })

/** A server that gives the listed answers in turn, recording each request and each wait. */
const scripted = (answers: ReadonlyArray<() => Response>) => {
  const requests: Array<string> = []
  const waits: Array<number> = []
  const inner: typeof fetch = async (input) => {
    requests.push(String(input))
    const next = answers[requests.length - 1]
    if (next === undefined) throw new Error("more requests than scripted answers")
    return next()
  }
  const wrapped = retryingFetch(inner, { attempts: 4, maxWaitMs: 5_000 }, async (ms) => {
    waits.push(ms)
  })
  return { wrapped, requests, waits }
}

describe("the dashboard page's fetch", () => {
  it("asks again after Retry-After while the server is at its bound, then returns the answer", async () => {
    const s = scripted([() => answer(503, "1"), () => answer(503, "2"), () => answer(200)])
    const response = await s.wrapped("/api/jobs")
    expect(response.status).toBe(200)
    expect(s.requests).toEqual(["/api/jobs", "/api/jobs", "/api/jobs"])
    expect(s.waits).toEqual([1000, 2000])
  })

  it("gives up after four requests and returns the last 503", async () => {
    const s = scripted([1, 2, 3, 4].map(() => () => answer(503, "1")))
    const response = await s.wrapped("/api/jobs")
    expect(response.status).toBe(503)
    expect(s.requests.length).toBe(4)
    expect(s.waits).toEqual([1000, 1000, 1000])
  })

  it("returns a 503 without Retry-After (not ready) and other errors at once", async () => {
    for (const first of [() => answer(503), () => answer(500, "1"), () => answer(404)]) {
      const s = scripted([first])
      const response = await s.wrapped("/readyz")
      expect(s.requests.length).toBe(1)
      expect(s.waits).toEqual([])
      expect(response.status).not.toBe(200)
    }
  })

  it("waits at most five seconds whatever Retry-After says", async () => {
    const s = scripted([() => answer(503, "600"), () => answer(200)])
    await s.wrapped("/api/jobs")
    expect(s.waits).toEqual([5000])
  })
})
