/**
 * The dashboard's one way to the server: a client derived from the HttpApi
 * definition in schemas/api.ts (HttpApiClient over the browser's fetch). Its
 * request and response types come from the endpoint schemas, so nothing here
 * restates a payload, a state or an error.
 *
 * The session cookie is HttpOnly and travels by itself (same origin); the
 * CSRF token handed out at sign-in is added to every mutating request.
 * `call` turns every failure (a refusal at the HTTP edge, a network error,
 * an answer that does not match the schema) into one human sentence for the
 * operator: the first problem's own message, never a dump of the schema.
 */
import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientError, HttpClientRequest } from "@effect/platform"
import { Effect, Either, Layer, ManagedRuntime, ParseResult } from "effect"
import { Api, CSRF_HEADER } from "../../../schemas/api.ts"
import { retryingFetch } from "./retryingFetch.ts"

// A 503 with Retry-After (the server at its bound) is asked again before it becomes an error on the page.
const runtime = ManagedRuntime.make(
  FetchHttpClient.layer.pipe(Layer.provide(Layer.succeed(FetchHttpClient.Fetch, retryingFetch(globalThis.fetch.bind(globalThis)))))
)

let csrfToken = ""

/** Remember the session's CSRF token (from sign-in or who-am-I). */
export const setCsrfToken = (token: string): void => {
  csrfToken = token
}

const withCsrf = HttpClient.mapRequest((request) =>
  request.method === "GET" || request.method === "HEAD"
    ? request
    : HttpClientRequest.setHeader(request, CSRF_HEADER, csrfToken)
)

const makeClient = HttpApiClient.make(Api, { baseUrl: location.origin, transformClient: withCsrf })

export type ApiClient = Effect.Effect.Success<typeof makeClient>

const client: Promise<ApiClient> = runtime.runPromise(makeClient)

export type Outcome<A> =
  | { readonly ok: true; readonly value: A }
  | { readonly ok: false; readonly message: string; readonly status: number | undefined }

let unauthorizedHandler: () => void = () => undefined

/** Called when any request finds the session gone (401). */
export const onUnauthorized = (handler: () => void): void => {
  unauthorizedHandler = handler
}

const STATUS_OF_TAG: Readonly<Record<string, number>> = {
  Unauthorized: 401,
  Forbidden: 403,
  BadRequest: 400,
  NotFound: 404,
  NotReady: 503
}

const hasTag = (u: unknown): u is { readonly _tag: string } =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string"

const messageOf = (u: unknown): string | undefined =>
  typeof u === "object" && u !== null && "message" in u && typeof u.message === "string" ? u.message : undefined

/** The server's own message from an answer the schema did not expect (413, 500, …). */
const bodyMessage = async (error: HttpClientError.ResponseError) => {
  const text = await runtime.runPromise(Effect.orElseSucceed(error.response.text, () => ""))
  try {
    const parsed: unknown = JSON.parse(text)
    return messageOf(parsed) ?? text
  } catch {
    return text
  }
}

/** One sentence: the first line, a capital first letter, a full stop, at most 300 characters. */
export const asSentence = (text: string): string => {
  const line = (text.split("\n").find((l) => l.trim() !== "") ?? "").trim()
  const short = line.length > 300 ? `${line.slice(0, 297)}…` : line
  if (short === "") return "Something went wrong, and the allocator gave no reason."
  const capital = short.charAt(0).toUpperCase() + short.slice(1)
  return /[.!?…]$/.test(capital) ? capital : `${capital}.`
}

/** The first problem a schema found, in the words of the filter that found it. */
const firstIssue = (error: ParseResult.ParseError): string => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (issue === undefined) return "That value is not valid."
  // A filter's own message already names the value and what is wrong with it.
  if (/ is not | must /.test(issue.message) || issue.path.length === 0) return issue.message
  return `${issue.path.join(".")}: ${issue.message}`
}

const issuesMessage = (u: unknown): string | undefined => {
  if (typeof u !== "object" || u === null || !("issues" in u) || !Array.isArray(u.issues)) return undefined
  const first: unknown = u.issues[0]
  return messageOf(first)
}

const describe = async (error: unknown): Promise<{ message: string; status: number | undefined }> => {
  if (ParseResult.isParseError(error)) {
    return { message: asSentence(firstIssue(error)), status: undefined }
  }
  if (error instanceof HttpClientError.ResponseError) {
    const status = error.response.status
    const body = await bodyMessage(error)
    const reason = body === "" || body.startsWith("<") ? "" : `: ${body}`
    return { message: asSentence(`The allocator could not answer (HTTP ${status})${reason}`), status }
  }
  if (error instanceof HttpClientError.RequestError) {
    return { message: "The allocator cannot be reached (network error); it may be restarting.", status: undefined }
  }
  if (hasTag(error)) {
    if (error._tag === "HttpApiDecodeError") {
      return { message: asSentence(issuesMessage(error) ?? messageOf(error) ?? "The request was not understood"), status: 400 }
    }
    const status = STATUS_OF_TAG[error._tag]
    if (status !== undefined) return { message: asSentence(messageOf(error) ?? error._tag), status }
  }
  return { message: asSentence(messageOf(error) ?? String(error)), status: undefined }
}

/** Runs one request; never throws. */
export const call = async <A, E>(request: (api: ApiClient) => Effect.Effect<A, E>): Promise<Outcome<A>> => {
  const api = await client
  const result = await runtime.runPromise(Effect.either(request(api)))
  if (Either.isRight(result)) return { ok: true, value: result.right }
  const { message, status } = await describe(result.left)
  if (status === 401) unauthorizedHandler()
  return { ok: false, message, status }
}

/** Like `call`, but a failure is thrown (for resources, whose errors Solid tracks). */
export const fetchOrThrow = async <A, E>(request: (api: ApiClient) => Effect.Effect<A, E>): Promise<A> => {
  const outcome = await call(request)
  if (outcome.ok) return outcome.value
  throw new Error(outcome.message)
}

/**
 * The path of an endpoint as the API defines it, for what the fetch client
 * cannot carry (EventSource streams). `params` fill its `:name` segments.
 */
export const endpointPath = (group: string, endpoint: string, params: Readonly<Record<string, string | number>> = {}) => {
  const path = Api.groups[group]?.endpoints[endpoint]?.path
  if (path === undefined) throw new Error(`the API has no endpoint ${group}.${endpoint}`)
  return path.replace(/:([A-Za-z]+)/g, (_, name: string) => encodeURIComponent(String(params[name] ?? "")))
}
