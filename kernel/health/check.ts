/**
 * Turning a probe into a `HealthResult`: the probe says what it found or why
 * it failed; this stamps the time and latency (from Effect's Clock) and makes
 * sure nothing escapes, so a health check can never fail or die.
 */
import { Cause, Clock, Data, DateTime, Effect, Option } from "effect"
import type { StaticConfig } from "../../schemas/config.ts"
import type { HealthCheckName, HealthResult } from "../../schemas/health.ts"

export type HealthConfig = StaticConfig["health"]

/** Why a probe judged its target unhealthy, as one operator-readable line (no secrets). */
export class ProbeFailure extends Data.TaggedError("ProbeFailure")<{ readonly detail: string }> {}

export interface ProbeSuccess {
  readonly detail: string
  readonly model?: string
}

const failureDetail = (cause: Cause.Cause<ProbeFailure>): string =>
  Option.match(Cause.failureOption(cause), {
    onSome: (failure) => failure.detail,
    onNone: () => {
      const defect = Cause.squash(cause)
      return `check crashed: ${defect instanceof Error ? defect.message : String(defect)}`
    }
  })

export const runCheck = <R>(
  name: HealthCheckName,
  probe: Effect.Effect<ProbeSuccess, ProbeFailure, R>
): Effect.Effect<HealthResult, never, R> =>
  Effect.gen(function* () {
    const started = yield* Clock.currentTimeMillis
    const outcome = yield* probe.pipe(
      Effect.map((ok): Omit<HealthResult, "name" | "checkedAt" | "latencyMs"> => ({ ok: true, ...ok })),
      Effect.catchAllCause((cause) => Effect.succeed({ ok: false, detail: failureDetail(cause) }))
    )
    const finished = yield* Clock.currentTimeMillis
    return {
      name,
      ...outcome,
      checkedAt: DateTime.formatIso(DateTime.unsafeMake(finished)),
      latencyMs: Math.max(0, finished - started)
    }
  }).pipe(Effect.withSpan(`Health.${name}`))
