/**
 * The HTTP layer: the dashboard API (schemas/api.ts) served on
 * config.http.host:port, with the dashboard's static files, OpenAPI JSON at
 * /api/openapi.json and its docs page at /api/docs.
 *
 * Reads go to the store, every operator action goes through the CommandBus
 * (audited, routed to the owning actor). In production it runs in the
 * dashboard server process (kernel/dashboard/), where those services are
 * backed by a read-only database and the kernel's control socket; tests may
 * still wire it in process next to the allocator:
 *
 *     const allocator = allocatorLayer(databaseFile(config.dataDir), processPort)
 *     const app = httpLayer(config, { staticDir: "ui/dist" }).pipe(Layer.provideMerge(allocator), ...)
 *
 * and print `bootstrapCredentials` at start when no users are configured.
 */
import { IncomingMessage, Server, ServerResponse } from "node:http"
import { HttpApiBuilder, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { Api } from "../../schemas/api.ts"
import type { StaticConfig } from "../../schemas/config.ts"
import { DashboardReads } from "../store/reads.ts"
import { AccessLive } from "./access.ts"
import { apiDocsLayer } from "./apiDocs.ts"
import { httpAuthLayer } from "./auth.ts"
import { guard } from "./guard.ts"
import { dashboardLive } from "./handlers/dashboard.ts"
import { ExecutorLive } from "./handlers/executor.ts"
import { HoldsLive } from "./handlers/holds.ts"
import { JobsLive } from "./handlers/jobs.ts"
import { liveLive } from "./handlers/live.ts"
import { OpsLive } from "./handlers/ops.ts"
import { SessionLive } from "./handlers/session.ts"
import { TunablesLive } from "./handlers/tunables.ts"
import { processSamplerLayer, ProcessSampler } from "../processStats.ts"
import { KernelLifecycle } from "../restart.ts"
import { healthChecksLayer } from "./health.ts"
import { liveRunsFromExecutor } from "./liveRuns.ts"
import { sessionHandoffLayer } from "./sessionHandoff.ts"
import { metricsLayer, ProcessGauges } from "./metrics.ts"
import { staticLayer } from "./static.ts"

export { bootstrapCredentials, type Credential, HttpAuth } from "./auth.ts"
export { hashPassword } from "./passwords.ts"

export interface HttpOptions {
  /** The built dashboard (ui/dist); served at / when it holds an index.html. */
  readonly staticDir?: string
  /**
   * Mark the session cookie Secure (TLS, or behind a TLS proxy). Defaults to
   * whether config.mail.dashboardUrl, the dashboard's public address, is https.
   */
  readonly secureCookies?: boolean
  /** Requests answered at once (event streams not counted); beyond it, 503. Default 256. */
  readonly maxInFlight?: number
  /** Open event streams (SSE); beyond it, 503. Default 512. */
  readonly maxStreams?: number
}

const DEFAULT_MAX_IN_FLIGHT = 256
/** How long an idle keep-alive connection stays open (Node's default is 5 s). */
const KEEP_ALIVE_MS = 30_000
const DEFAULT_MAX_STREAMS = 512

/**
 * Closing the server also ends open connections: SSE streams never end on
 * their own, and would otherwise hold shutdown until every browser left.
 */
class ClosingServer extends Server {
  override close(callback?: (err?: Error) => void): this {
    super.close(callback)
    this.closeAllConnections()
    return this
  }
}

const isEventStream = (request: IncomingMessage) =>
  (request.headers.accept ?? "").includes("text/event-stream") ||
  /^\/api\/(events|runs\/[^/]+\/log\/stream)(\?|$)/.test(request.url ?? "")

/**
 * Bounded concurrency, counted where Node hands over a request: a request
 * holds its slot until its response closes (an event stream, until the
 * browser leaves). Beyond a limit the answer is an immediate 503, so a flood
 * costs a counter check instead of queued memory, and the requests already
 * admitted keep their latency.
 */
export class BoundedServer extends ClosingServer {
  private requests = 0
  private streams = 0

  constructor(
    private readonly maxInFlight: number,
    private readonly maxStreams: number
  ) {
    super()
    // Node's 5 s closed idle keep-alive sockets while busy clients, a second
    // late, sent their next request on them (ECONNRESET under dashboard load).
    this.keepAliveTimeout = KEEP_ALIVE_MS
  }

  override emit(event: string, ...args: Array<unknown>): boolean {
    const [request, response] = args
    if (event !== "request" || !(request instanceof IncomingMessage) || !(response instanceof ServerResponse)) {
      return super.emit(event, ...args)
    }
    // The socket listens while the rest of the layers are still being built, and the
    // app attaches its handler last: a request in that window would get no answer at all.
    if (this.listenerCount("request") === 0) {
      response.writeHead(503, { "content-type": "application/json", "retry-after": "1" })
      response.end(JSON.stringify({ _tag: "Unavailable", message: "the dashboard server is starting; try again shortly" }))
      return true
    }
    const stream = isEventStream(request)
    if (stream ? this.streams >= this.maxStreams : this.requests >= this.maxInFlight) {
      const message = stream
        ? `the dashboard server has ${this.streams} live streams open, its limit; try again shortly`
        : `the dashboard server is answering ${this.requests} requests, its limit; try again shortly`
      response.writeHead(503, { "content-type": "application/json", "retry-after": "1" })
      response.end(JSON.stringify({ _tag: "Unavailable", message }))
      return true
    }
    if (stream) this.streams += 1
    else this.requests += 1
    response.once("close", () => {
      if (stream) this.streams -= 1
      else this.requests -= 1
    })
    return super.emit(event, ...args)
  }
}

/**
 * The API and the server, without HealthChecks, ProcessGauges and LiveRuns: the
 * process that serves it provides those (and the stores, CommandBus,
 * EventBus, Outage, FirestorePort) its own way.
 */
export const httpServeLayer = (config: StaticConfig, options: HttpOptions = {}) => {
  const secureCookie = options.secureCookies ?? config.mail.dashboardUrl.startsWith("https://")

  const groups = Layer.mergeAll(
    SessionLive,
    OpsLive,
    dashboardLive(config),
    liveLive(config),
    ExecutorLive,
    JobsLive,
    HoldsLive,
    TunablesLive
  )
  const api = HttpApiBuilder.api(Api).pipe(Layer.provide(groups), Layer.provide(AccessLive))

  const served = HttpApiBuilder.serve().pipe(
    Layer.provide(HttpApiBuilder.middleware(guard)),
    // Loaded on first use: the Swagger UI bundle is MiBs the dashboard server would otherwise hold at rest.
    Layer.provide(apiDocsLayer("/api/docs")),
    Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/api/openapi.json" })),
    Layer.provide(staticLayer(options.staticDir)),
    Layer.provide(api),
    HttpServer.withLogAddress
  )

  const internals = metricsLayer.pipe(
    Layer.provideMerge(DashboardReads.Default),
    Layer.provideMerge(httpAuthLayer(config, { secureCookie }))
  )

  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT
  const maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS
  return served.pipe(
    Layer.provideMerge(internals),
    Layer.provideMerge(
      NodeHttpServer.layer(() => new BoundedServer(maxInFlight, maxStreams), { host: config.http.host, port: config.http.port })
    )
  )
}

/** This process's own gauges only (everything runs in one process). */
export const localProcessGauges = (name: string) =>
  Layer.effect(
    ProcessGauges,
    Effect.map(ProcessSampler, (sampler) => ({ all: Effect.map(sampler.sample, (s) => [s]) }))
  ).pipe(Layer.provide(processSamplerLayer(name)))

/**
 * The HTTP layer in the allocator's own process: health checks run here,
 * gauges are this process's, "Restart now" stops this process (KernelLifecycle)
 * and hands the dashboard sessions over to the next one (sessionHandoff).
 */
export const httpLayer = (config: StaticConfig, options: HttpOptions = {}) =>
  Layer.provideMerge(sessionHandoffLayer(config), httpServeLayer(config, options)).pipe(
    Layer.provideMerge(
      Layer.mergeAll(healthChecksLayer(config), localProcessGauges("kernel"), KernelLifecycle.Default, liveRunsFromExecutor(config))
    )
  )
