/**
 * What every request passes through before routing: the body is read here,
 * within a size limit (413 otherwise), and JSON bodies are parsed once so
 * that malformed JSON is a 400 with a message rather than a crash. The
 * cached body is what the endpoint then decodes. A schema failure's message
 * is cut down to one line per field. Every response gets the security
 * headers; an unknown route is a JSON 404.
 *
 * Refusals made here, before any endpoint or session check (so even an
 * anonymous caller gets them): a JSON body nested deeper than MAX_JSON_DEPTH
 * (a 3,000-deep array once crashed decoding into an empty 500), a NUL
 * character anywhere in the path or query (SQLite and the search index
 * treat it as the end of the text). Every refusal is one line of at most
 * MESSAGE_LIMIT characters that never quotes more than a snippet of the
 * input, and is logged; a 5xx is logged too.
 */
import { HttpApiError, HttpApp, HttpIncomingMessage, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import type { IncomingMessage } from "node:http"
import { Readable } from "node:stream"
import { Cause, Effect, Either, Option } from "effect"

/** Bytes. The CSV upload is the one large body. */
export const BODY_LIMIT = 64 * 1024
export const CSV_BODY_LIMIT = 2 * 1024 * 1024

const limitFor = (path: string) => (path === "/api/manual-add/validate-csv" ? CSV_BODY_LIMIT : BODY_LIMIT)

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  "cross-origin-opener-policy": "same-origin"
}

/** The longest message a refusal carries: enough to name the field and the rule, never a whole input. */
export const MESSAGE_LIMIT = 200

/** Deeper JSON than any endpoint takes (the deepest payload is an object holding an array of strings). */
export const MAX_JSON_DEPTH = 32

/** One line, at most `limit` characters. */
export const oneLine = (text: string, limit = MESSAGE_LIMIT): string => {
  const line = text.replace(/[\r\n\u2028\u2029]+/g, " ")
  return line.length > limit ? `${line.slice(0, limit - 1)}…` : line
}

const error = (status: number, tag: string, message: string) =>
  HttpServerResponse.unsafeJson({ _tag: tag, message: oneLine(message) }, { status })

/** How deep the JSON text nests, stopping early once past `limit` (strings and escapes skipped). */
export const jsonDepthExceeds = (text: string, limit: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 91 || c === 123) {
      depth++
      if (depth > limit) return true
    } else if (c === 93 || c === 125) depth--
  }
  return false
}

/** The first NUL in the path or a query parameter, named for the message. */
const nulIn = (url: URL): string | undefined => {
  let path: string
  try {
    path = decodeURIComponent(url.pathname)
  } catch {
    path = url.pathname
  }
  if (path.includes("\u0000")) return "the path"
  for (const [key, value] of url.searchParams) {
    if (key.includes("\u0000") || value.includes("\u0000")) return `query parameter ${JSON.stringify(oneLine(key, 40))}`
  }
  return undefined
}

const checkUrl = Effect.gen(function* () {
  const request = yield* HttpServerRequest.HttpServerRequest
  const where = nulIn(new URL(request.url, "http://localhost"))
  if (where === undefined) return Option.none<HttpServerResponse.HttpServerResponse>()
  return Option.some(error(400, "BadRequest", `${where} contains a NUL character`))
})

const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"])

/**
 * The body reader stops at the limit by destroying the request stream, which
 * on Node destroys the socket: a client still uploading a chunked body then
 * sees a reset instead of the 413. Here "destroy" drains the rest instead,
 * and the 413 closes the connection once it is sent.
 */
const drainInsteadOfReset = (request: HttpServerRequest.HttpServerRequest) => {
  let incoming: IncomingMessage
  try {
    incoming = NodeHttpServerRequest.toIncomingMessage(request)
  } catch {
    return
  }
  if (!(incoming instanceof Readable)) return
  incoming.destroy = function (this: IncomingMessage) {
    this.resume()
    return this
  }
}

const checkBody = Effect.gen(function* () {
  const request = yield* HttpServerRequest.HttpServerRequest
  if (!BODY_METHODS.has(request.method)) return Option.none<HttpServerResponse.HttpServerResponse>()
  const path = new URL(request.url, "http://localhost").pathname
  const limit = limitFor(path)
  const declared = Number(request.headers["content-length"] ?? "0")
  if (Number.isFinite(declared) && declared > limit) {
    return Option.some(error(413, "PayloadTooLarge", `request body is ${declared} bytes; the limit here is ${limit}`))
  }
  drainInsteadOfReset(request)
  const text = yield* Effect.either(HttpIncomingMessage.withMaxBodySize(request.text, Option.some(limit)))
  if (Either.isLeft(text)) {
    const tooLarge = error(413, "PayloadTooLarge", `request body could not be read within the ${limit}-byte limit`)
    return Option.some(HttpServerResponse.setHeader(tooLarge, "connection", "close"))
  }
  const contentType = (request.headers["content-type"] ?? "application/json").toLowerCase()
  if (contentType.includes("application/json") && text.right.trim() !== "") {
    if (jsonDepthExceeds(text.right, MAX_JSON_DEPTH)) {
      return Option.some(error(400, "BadRequest", `JSON body nested deeper than ${MAX_JSON_DEPTH} levels`))
    }
    try {
      JSON.parse(text.right)
    } catch (e) {
      return Option.some(error(400, "BadRequest", `malformed JSON body: ${oneLine(e instanceof Error ? e.message : String(e), 120)}`))
    }
  }
  return Option.none<HttpServerResponse.HttpServerResponse>()
})

type Issue = HttpApiError.HttpApiDecodeError["issues"][number]

const pathText = (path: ReadonlyArray<PropertyKey>) =>
  path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("")

/**
 * One line per offending field instead of the schema's tree: `docs[1]: "../x"
 * is not a valid document id`. A literal union's alternatives are merged.
 */
export const summarizeIssues = (issues: ReadonlyArray<Issue>): string => {
  const meaningful = issues.filter((i) => !i.message.startsWith("Expected undefined"))
  const byPath = new Map<string, Array<string>>()
  for (const issue of meaningful.length > 0 ? meaningful : issues) {
    const key = pathText(issue.path)
    byPath.set(key, [...(byPath.get(key) ?? []), issue.message])
  }
  return [...byPath.entries()]
    .map(([path, messages]) => {
      const alternatives = messages.map((m) => /^Expected (.+), actual (.+)$/.exec(m))
      const merged =
        messages.length > 1 && alternatives.every((m) => m !== null)
          ? `expected one of ${alternatives.map((m) => m?.[1] ?? "").join(", ")}; got ${alternatives[0]?.[2] ?? ""}`
          : messages.join("; ")
      return path === "" ? merged : `${path}: ${merged}`
    })
    .join("; ")
}

const isDecodeError = (u: unknown): u is HttpApiError.HttpApiDecodeError => u instanceof HttpApiError.HttpApiDecodeError

const isRouteNotFound = (u: unknown) => typeof u === "object" && u !== null && "_tag" in u && u._tag === "RouteNotFound"

/** At most this many per-field issues are returned, each message cut to one short line. */
const MAX_ISSUES = 10

const logRefusal = (response: HttpServerResponse.HttpServerResponse, message: string) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const line = `${request.method} ${oneLine(new URL(request.url, "http://localhost").pathname, 120)} -> ${response.status}: ${oneLine(message)}`
    return response.status >= 500 ? Effect.logError(line) : Effect.logWarning(line)
  })

export const guard = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
  Effect.gen(function* () {
    const badUrl = yield* checkUrl
    const early = Option.isSome(badUrl) ? badUrl : yield* checkBody
    if (Option.isSome(early)) yield* logRefusal(early.value, "refused before routing")
    const response = Option.isSome(early)
      ? early.value
      : yield* app.pipe(
          Effect.catchAllCause((cause) =>
            Option.match(Option.filter(Cause.failureOption(cause), isDecodeError), {
              onNone: () => Effect.failCause(cause),
              // The same body the API's own encoder writes, with the shorter message.
              onSome: (e) => {
                const message = oneLine(summarizeIssues(e.issues))
                const issues = e.issues.slice(0, MAX_ISSUES).map((i) => ({ ...i, message: oneLine(i.message, 120) }))
                const reply = HttpServerResponse.unsafeJson({ _tag: e._tag, issues, message }, { status: 400 })
                return Effect.as(logRefusal(reply, message), reply)
              }
            })
          ),
          Effect.catchIf(isRouteNotFound, () =>
            Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
              Effect.succeed(error(404, "NotFound", `no route ${request.method} ${new URL(request.url, "http://localhost").pathname}`))
            )
          )
        )
    if (response.status >= 500 && Option.isNone(early)) yield* logRefusal(response, "server error")
    return HttpServerResponse.setHeaders(response, SECURITY_HEADERS)
  })
