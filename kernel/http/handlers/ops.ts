/** /healthz, /readyz and /metrics: for systemd, load balancers and Prometheus. */
import { HttpApiBuilder } from "@effect/platform"
import { Cause, Effect } from "effect"
import { Api, CurrentUser, NotReady } from "../../../schemas/api.ts"
import { Outage } from "../../outage.ts"
import { KernelLifecycle } from "../../restart.ts"
import { WriteProbe } from "../../store/writeProbe.ts"
import { Metrics } from "../metrics.ts"

const probeFailure = (error: unknown): string => {
  const cause = typeof error === "object" && error !== null && "cause" in error ? error.cause : error
  return cause instanceof Error ? cause.message : String(cause)
}

export const OpsLive = HttpApiBuilder.group(Api, "ops", (handlers) =>
  Effect.gen(function* () {
    const writes = yield* WriteProbe
    const outage = yield* Outage
    const metrics = yield* Metrics
    const lifecycle = yield* KernelLifecycle
    return handlers
      .handle("healthz", () => Effect.succeed("ok\n"))
      .handle("readyz", () =>
        Effect.gen(function* () {
          const down = yield* outage.isDown
          // A write, not a read: a full disk or a held lock still answers SELECTs while outcomes cannot be stored.
          yield* writes.probe.pipe(
            Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => "no answer within 2 s" }),
            Effect.catchAllCause((cause) =>
              Effect.fail(new NotReady({ message: `the database cannot be written: ${probeFailure(Cause.squash(cause))}`, outage: down }))
            )
          )
          return { ready: true, database: "ok" as const, outage: down }
        })
      )
      .handle("metrics", () => metrics.render)
      .handle("restartStatus", () =>
        Effect.gen(function* () {
          return { pending: yield* lifecycle.pending, startedAt: yield* lifecycle.startedAt, restarting: yield* lifecycle.restarting }
        })
      )
      .handle("restart", () =>
        Effect.gen(function* () {
          const user = yield* CurrentUser
          if (yield* lifecycle.restarting) return { ok: false, message: "A restart is already under way." }
          // Answer first: the request is released a moment later, so this response leaves before the server closes.
          yield* lifecycle.request(user.name).pipe(Effect.delay("300 millis"), Effect.forkDaemon)
          return { ok: true, message: "The allocator is stopping in order and will be started again; the page reconnects by itself." }
        })
      )
  })
)
