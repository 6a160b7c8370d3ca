/**
 * What every request passes through before routing: the body is read here,
 * within a size limit (413 otherwise), and JSON bodies are parsed once so
 * that malformed JSON is a 400 with a message rather than a crash. The
 * cached body is what the endpoint then decodes. A schema failure's message
 * is cut down to one line per field. Every response gets the security
 * headers; an unknown route is a JSON 404.
 */
import { HttpApiError, HttpApp, HttpIncomingMessage, HttpServerRequest, HttpServerResponse } from "@effect/platform"
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

const error = (status: number, tag: string, message: string) =>
  HttpServerResponse.unsafeJson({ _tag: tag, message }, { status })

const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"])

const checkBody = Effect.gen(function* () {
  const request = yield* HttpServerRequest.HttpServerRequest
  if (!BODY_METHODS.has(request.method)) return Option.none<HttpServerResponse.HttpServerResponse>()
  const path = new URL(request.url, "http://localhost").pathname
  const limit = limitFor(path)
  const declared = Number(request.headers["content-length"] ?? "0")
  if (Number.isFinite(declared) && declared > limit) {
    return Option.some(error(413, "PayloadTooLarge", `request body is ${declared} bytes; the limit here is ${limit}`))
  }
  const text = yield* Effect.either(HttpIncomingMessage.withMaxBodySize(request.text, Option.some(limit)))
  if (Either.isLeft(text)) {
    return Option.some(error(413, "PayloadTooLarge", `request body could not be read within the ${limit}-byte limit`))
  }
  const contentType = (request.headers["content-type"] ?? "application/json").toLowerCase()
  if (contentType.includes("application/json") && text.right.trim() !== "") {
    try {
      JSON.parse(text.right)
    } catch (e) {
      return Option.some(error(400, "BadRequest", `malformed JSON body: ${e instanceof Error ? e.message : String(e)}`))
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

export const guard = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
  Effect.gen(function* () {
    const early = yield* checkBody
    const response = Option.isSome(early)
      ? early.value
      : yield* app.pipe(
          Effect.catchAllCause((cause) =>
            Option.match(Option.filter(Cause.failureOption(cause), isDecodeError), {
              onNone: () => Effect.failCause(cause),
              // The same body the API's own encoder writes, with the shorter message.
              onSome: (e) =>
                Effect.succeed(
                  HttpServerResponse.unsafeJson(
                    { _tag: e._tag, issues: e.issues, message: summarizeIssues(e.issues) },
                    { status: 400 }
                  )
                )
            })
          ),
          Effect.catchIf(isRouteNotFound, () =>
            Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
              Effect.succeed(error(404, "NotFound", `no route ${request.method} ${new URL(request.url, "http://localhost").pathname}`))
            )
          )
        )
    return HttpServerResponse.setHeaders(response, SECURITY_HEADERS)
  })
