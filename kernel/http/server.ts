/**
 * The HTTP layer: the dashboard API (schemas/api.ts) served on
 * config.http.host:port, with the dashboard's static files, OpenAPI JSON at
 * /api/openapi.json and its docs page at /api/docs.
 *
 * It sits beside the actors: reads go to the store, every operator action
 * goes through the CommandBus (audited, routed to the owning actor). Wire it
 * next to the allocator:
 *
 *     const allocator = allocatorLayer(databaseFile(config.dataDir), processPort)
 *     const app = httpLayer(config, { staticDir: "ui/dist" }).pipe(Layer.provideMerge(allocator), ...)
 *
 * and print `bootstrapCredentials` at start when no users are configured.
 */
import { Server } from "node:http"
import { HttpApiBuilder, HttpApiSwagger, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Layer } from "effect"
import { Api } from "../../schemas/api.ts"
import type { StaticConfig } from "../../schemas/config.ts"
import { DashboardReads } from "../store/reads.ts"
import { AccessLive } from "./access.ts"
import { httpAuthLayer } from "./auth.ts"
import { guard } from "./guard.ts"
import { dashboardLive } from "./handlers/dashboard.ts"
import { HoldsLive } from "./handlers/holds.ts"
import { JobsLive } from "./handlers/jobs.ts"
import { liveLive } from "./handlers/live.ts"
import { OpsLive } from "./handlers/ops.ts"
import { SessionLive } from "./handlers/session.ts"
import { TunablesLive } from "./handlers/tunables.ts"
import { KernelLifecycle } from "../restart.ts"
import { healthChecksLayer } from "./health.ts"
import { sessionHandoffLayer } from "./sessionHandoff.ts"
import { metricsLayer } from "./metrics.ts"
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
}

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

export const httpLayer = (config: StaticConfig, options: HttpOptions = {}) => {
  const secureCookie = options.secureCookies ?? config.mail.dashboardUrl.startsWith("https://")

  const groups = Layer.mergeAll(
    SessionLive,
    OpsLive,
    dashboardLive(config),
    liveLive(config),
    JobsLive,
    HoldsLive,
    TunablesLive
  )
  const api = HttpApiBuilder.api(Api).pipe(Layer.provide(groups), Layer.provide(AccessLive))

  const served = HttpApiBuilder.serve().pipe(
    Layer.provide(HttpApiBuilder.middleware(guard)),
    Layer.provide(HttpApiSwagger.layer({ path: "/api/docs" })),
    Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/api/openapi.json" })),
    Layer.provide(staticLayer(options.staticDir)),
    Layer.provide(api),
    HttpServer.withLogAddress
  )

  const internals = Layer.mergeAll(healthChecksLayer(config), metricsLayer, KernelLifecycle.Default).pipe(
    Layer.provideMerge(DashboardReads.Default),
    Layer.provideMerge(httpAuthLayer(config, { secureCookie }))
  )

  // "Restart now" hands the dashboard sessions over to the next process (sessionHandoff).
  return Layer.provideMerge(sessionHandoffLayer(config), served).pipe(
    Layer.provideMerge(internals),
    Layer.provideMerge(NodeHttpServer.layer(() => new ClosingServer(), { host: config.http.host, port: config.http.port }))
  )
}
