/**
 * The dashboard server turns a request away with 503 and `Retry-After` when
 * it already has as many requests in flight as it takes (its bound under
 * load). That answer means "ask again in a moment", not "something broke":
 * the page waits the time it names and asks again, a few times, before it
 * shows the operator an error. A 503 without `Retry-After` (the allocator
 * not ready) is an answer in its own right and is returned at once.
 */

export interface RetryPolicy {
  /** Requests sent at most, the first included. */
  readonly attempts: number
  /** A `Retry-After` longer than this is waited as this long (ms). */
  readonly maxWaitMs: number
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, maxWaitMs: 5_000 }

/** Milliseconds a 503 asks the client to wait, or undefined when it does not ask for a retry. */
export const retryDelayMs = (response: Response, policy: RetryPolicy): number | undefined => {
  if (response.status !== 503) return undefined
  const header = response.headers.get("retry-after")
  if (header === null) return undefined
  const seconds = Number(header)
  if (!Number.isFinite(seconds) || seconds < 0) return undefined
  return Math.min(seconds * 1000, policy.maxWaitMs)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** A fetch that honours the server's `Retry-After` on 503 (the API client's bodies are bytes or form data, so a request can be sent again). */
export const retryingFetch =
  (inner: typeof fetch, policy: RetryPolicy = DEFAULT_RETRY, wait: (ms: number) => Promise<void> = sleep): typeof fetch =>
  async (input, init) => {
    for (let attempt = 1; ; attempt++) {
      const response = await inner(input, init)
      const delay = attempt < policy.attempts ? retryDelayMs(response, policy) : undefined
      if (delay === undefined) return response
      await response.body?.cancel()
      await wait(delay)
    }
  }
