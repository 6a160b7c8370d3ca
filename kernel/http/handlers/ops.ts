/** /healthz, /readyz and /metrics: for systemd, load balancers and Prometheus. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api, NotReady } from "../../../schemas/api.ts"
import { Outage } from "../../outage.ts"
import { DashboardReads } from "../../store/reads.ts"
import { Metrics } from "../metrics.ts"

export const OpsLive = HttpApiBuilder.group(Api, "ops", (handlers) =>
  Effect.gen(function* () {
    const reads = yield* DashboardReads
    const outage = yield* Outage
    const metrics = yield* Metrics
    return handlers
      .handle("healthz", () => Effect.succeed("ok\n"))
      .handle("readyz", () =>
        Effect.gen(function* () {
          const down = yield* outage.isDown
          yield* reads.ping.pipe(
            Effect.timeout("2 seconds"),
            Effect.catchAllCause(() => Effect.fail(new NotReady({ message: "the database does not answer", outage: down })))
          )
          return { ready: true, database: "ok" as const, outage: down }
        })
      )
      .handle("metrics", () => metrics.render)
  })
)
