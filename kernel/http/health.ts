/**
 * The dashboard's health checks (Firestore, Gemini, OCR), each cached for
 * the configured TTL so a room full of dashboards probes each target once.
 */
import { Context, Duration, Effect, Layer } from "effect"
import type { StaticConfig } from "../../schemas/config.ts"
import type { HealthCheckName, HealthResult } from "../../schemas/health.ts"
import { makeTtlCache, type TtlCache } from "../health/cache.ts"
import { ProbeFailure, runCheck } from "../health/check.ts"
import { checkGemini } from "../health/gemini.ts"
import { checkOcr } from "../health/ocr.ts"
import { checkSlurm } from "../health/slurm.ts"
import { Outage } from "../outage.ts"
import { FirestorePort } from "../ports/firestore.ts"

export interface HealthChecksShape {
  /** Cached results, in the order firestore, gemini, ocr (run concurrently when stale). */
  readonly get: Effect.Effect<ReadonlyArray<HealthResult>>
  /** Runs the named check (or all) now and stores the results. */
  readonly refresh: (name?: HealthCheckName) => Effect.Effect<ReadonlyArray<HealthResult>>
}

export class HealthChecks extends Context.Tag("kernel/http/HealthChecks")<HealthChecks, HealthChecksShape>() {}

/**
 * The connectivity check the worker uses too: a bounded read of `reports`.
 * While the allocator is in outage mode the answer is "unreachable" without
 * probing, so the health panel never says ok while the header says outage.
 */
export const checkFirestore = (timeoutMs: number) =>
  Effect.flatMap(FirestorePort, (port) =>
    runCheck(
      "firestore",
      Effect.flatMap(Outage, (outage) => outage.isDown).pipe(
        Effect.flatMap((down) =>
          down ? Effect.fail(new ProbeFailure({ detail: "Firestore unreachable: the allocator is in outage mode" })) : Effect.void
        ),
        Effect.zipRight(port.checkConnectivity.pipe(
          Effect.mapError((e) => new ProbeFailure({ detail: `reports collection not readable: ${e.message}` })))
        ),
        Effect.timeoutFail({
          duration: Duration.millis(timeoutMs),
          onTimeout: () => new ProbeFailure({ detail: `no answer from Firestore within ${timeoutMs} ms` })
        }),
        Effect.as({ detail: "reports collection readable" })
      )
    )
  )

/**
 * The Firestore check follows outage mode at once: while down, or when the
 * stored result disagrees with the current mode, it is run again instead of
 * served from the cache.
 */
const firestoreCache = (timeoutMs: number, ttl: Duration.Duration) =>
  Effect.gen(function* () {
    const outage = yield* Outage
    const cache = yield* makeTtlCache(checkFirestore(timeoutMs), ttl)
    const agrees = (result: HealthResult) => Effect.map(outage.isDown, (down) => result.ok !== down)
    const get = Effect.gen(function* () {
      const cached = yield* cache.get
      return (yield* agrees(cached)) ? cached : yield* cache.refresh
    })
    return { ...cache, get } satisfies TtlCache<HealthResult, never>
  })

export const healthChecksLayer = (config: StaticConfig) =>
  Layer.effect(
    HealthChecks,
    Effect.gen(function* () {
      const ttl = Duration.seconds(config.health.ttlSeconds)
      const caches: ReadonlyArray<readonly [HealthCheckName, TtlCache<HealthResult, never>]> = [
        ["firestore", yield* firestoreCache(config.firestore.connectivityTimeoutMs, ttl)],
        ["gemini", yield* makeTtlCache(checkGemini(config.health), ttl)],
        ["ocr", yield* makeTtlCache(checkOcr(config.health), ttl)],
        ...(config.executor?.kind === "slurm"
          ? [["slurm", yield* makeTtlCache(checkSlurm(config.executor), ttl)] as const]
          : [])
      ]
      return {
        get: Effect.all(
          caches.map(([, cache]) => cache.get),
          { concurrency: "unbounded" }
        ),
        refresh: (name) =>
          Effect.all(
            caches.map(([n, cache]) => (name === undefined || name === n ? cache.refresh : cache.get)),
            { concurrency: "unbounded" }
          )
      }
    })
  )
