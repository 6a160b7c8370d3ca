/** One bounded GET for the health probes, on undici. */
import { Duration, Effect } from "effect"
import { ProbeFailure } from "./check.ts"

export interface HttpGetResult {
  readonly statusCode: number
  readonly body: string
}

export interface HttpGetOptions {
  readonly timeoutMs: number
  /** Values that must never appear in a detail (an API key in the query string). */
  readonly secrets?: ReadonlyArray<string>
}

/** Replaces every secret (raw or URL-encoded) with `***`. */
export const redact = (text: string, secrets: ReadonlyArray<string>): string =>
  secrets
    .filter((s) => s.length > 0)
    .flatMap((s) => [s, encodeURIComponent(s)])
    .reduce((acc, s) => acc.split(s).join("***"), text)

const errorCode = (error: unknown): string | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  const code: unknown = (error as { readonly code?: unknown }).code
  if (typeof code === "string") return code
  // Happy Eyeballs wraps one error per address in an AggregateError.
  const errors: unknown = (error as { readonly errors?: unknown }).errors
  return Array.isArray(errors) ? errorCode(errors[0]) : undefined
}

const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT", "ETIMEDOUT"])

export const describeHttpError = (error: unknown, timeoutMs: number): string => {
  const code = errorCode(error)
  if (code !== undefined && TIMEOUT_CODES.has(code)) return `timed out after ${timeoutMs} ms`
  if (code === "ECONNREFUSED") return "connection refused"
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "host not found"
  const message = error instanceof Error && error.message !== "" ? error.message : String(error)
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message
}

/**
 * GET `url` and read the whole body. undici's headers/body timeouts end a
 * silent server; the Effect timeout also covers connecting, and interrupting
 * aborts the request.
 */
export const httpGet = (url: string, options: HttpGetOptions): Effect.Effect<HttpGetResult, ProbeFailure> => {
  const secrets = options.secrets ?? []
  return Effect.tryPromise({
    try: async (signal) => {
      // Loaded on the first probe: undici is a megabyte of code the kernel otherwise never runs (issue 12, memory at rest).
      const { request } = await import("undici")
      const response = await request(url, {
        method: "GET",
        headers: { accept: "application/json" },
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
        signal
      })
      const body = await response.body.text()
      return { statusCode: response.statusCode, body }
    },
    catch: (error) => new ProbeFailure({ detail: redact(describeHttpError(error, options.timeoutMs), secrets) })
  }).pipe(
    Effect.timeoutFail({
      duration: Duration.millis(options.timeoutMs),
      onTimeout: () => new ProbeFailure({ detail: `timed out after ${options.timeoutMs} ms` })
    })
  )
}

/** The first `max` characters of a body, on one line, for a detail. */
export const snippet = (body: string, max = 160): string => {
  const line = body.replace(/\s+/g, " ").trim()
  return line.length > max ? `${line.slice(0, max)}…` : line
}

export const joinUrl = (base: string, path: string): string => `${base.replace(/\/+$/, "")}${path}`
