/**
 * The host's own gauges over its socket (the Stats request): sampled in the
 * host's process, named "exechost", for /metrics. The client asks; a host
 * that does not answer fails the question with ExecutorUnavailable (the
 * kernel then leaves the host out of the scrape).
 */
import { expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Scope } from "effect"
import { clientOf, inProcessHost, tempRoot } from "./support.ts"

it.scoped("Stats: the host's own process gauges, through the client", () =>
  Effect.gen(function* () {
    const root = yield* tempRoot
    yield* inProcessHost(root.config)
    const client = yield* clientOf(root.config)
    const stats = yield* client.stats
    expect(stats.process).toBe("exechost")
    // In process here: the host is this test's own process.
    expect(stats.pid).toBe(process.pid)
    expect(stats.rssBytes).toBeGreaterThan(1_000_000)
    expect(stats.heapUsedBytes).toBeGreaterThan(0)
    expect(stats.heapTotalBytes).toBeGreaterThanOrEqual(stats.heapUsedBytes)
    expect(stats.eventLoopUtilization).toBeGreaterThanOrEqual(0)
    expect(stats.eventLoopUtilization).toBeLessThanOrEqual(1)
  })
)

it.scoped("Stats: with the host gone, ExecutorUnavailable", () =>
  Effect.gen(function* () {
    const root = yield* tempRoot
    const hostScope = yield* Scope.make()
    yield* Scope.extend(inProcessHost(root.config), hostScope)
    const client = yield* clientOf(root.config)
    expect((yield* client.stats).process).toBe("exechost")
    // The host stops: its socket closes.
    yield* Scope.close(hostScope, Exit.void)
    const answer = yield* Effect.either(client.stats)
    expect(Either.isLeft(answer) && answer.left._tag).toBe("ExecutorUnavailable")
  })
)
