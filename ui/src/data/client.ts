/**
 * The dashboard's one way to the server: a client derived from the HttpApi
 * definition in schemas/api.ts (HttpApiClient over the browser's fetch). Its
 * request and response types come from the endpoint schemas, so nothing here
 * restates a payload, a state or an error.
 *
 * The session cookie is HttpOnly and travels by itself (same origin); the
 * CSRF token handed out at sign-in is added to every mutating request.
 * `call` turns every failure (a refusal at the HTTP edge, a network error,
 * an answer that does not match the schema) into one line for the operator.
 */
import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientError, HttpClientRequest } from "@effect/platform"
import { Effect, Either, ManagedRuntime, ParseResult } from "effect"
import { Api, CSRF_HEADER } from "../../../schemas/api.ts"

const runtime = ManagedRuntime.make(FetchHttpClient.layer)

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

const describe = async (error: unknown): Promise<{ message: string; status: number | undefined }> => {
  if (ParseResult.isParseError(error)) {
    return { message: `not sent or not understood: ${ParseResult.TreeFormatter.formatErrorSync(error)}`, status: undefined }
  }
  if (error instanceof HttpClientError.ResponseError) {
    const body = await bodyMessage(error)
    return { message: `HTTP ${error.response.status}${body === "" ? "" : `: ${body}`}`, status: error.response.status }
  }
  if (error instanceof HttpClientError.RequestError) {
    return { message: "cannot reach the allocator (network error)", status: undefined }
  }
  if (hasTag(error)) {
    const status = STATUS_OF_TAG[error._tag]
    if (status !== undefined) return { message: messageOf(error) ?? error._tag, status }
  }
  return { message: messageOf(error) ?? String(error), status: undefined }
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
