/**
 * Live updates as Server-Sent Events: every AllocatorEvent, and the tail of
 * one attempt's log. The event subscription is taken before the preamble is
 * sent, so a client that has seen the preamble misses nothing after it.
 */
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option, Stream } from "effect"
import { Api, NotFound } from "../../../schemas/api.ts"
import type { StaticConfig } from "../../../schemas/config.ts"
import { isActive } from "../../../schemas/job.ts"
import { EventBus } from "../../events.ts"
import { JobStore } from "../../store/jobs.ts"
import { tailRunLog } from "../logs.ts"
import { HttpAuth } from "../auth.ts"
import { SSE_PREAMBLE, sessionSse, sseEvent } from "../sse.ts"

export const liveLive = (config: StaticConfig) =>
  HttpApiBuilder.group(Api, "live", (handlers) =>
    Effect.gen(function* () {
      const events = yield* EventBus
      const jobs = yield* JobStore
      const auth = yield* HttpAuth

      return handlers
        .handle("events", () =>
          sessionSse(
            auth,
            Stream.unwrapScoped(
              Effect.map(events.subscribe, (queue) =>
                Stream.concat(
                  Stream.make(SSE_PREAMBLE),
                  Stream.fromQueue(queue).pipe(Stream.map((event) => sseEvent(JSON.stringify(event))))
                )
              )
            )
          )
        )
        .handle("runLogStream", ({ path }) =>
          Effect.gen(function* () {
            const found = yield* jobs.byId(path.run)
            if (Option.isNone(found)) return yield* new NotFound({ message: `no run ${path.run}` })
            const run = found.value
            const stateNow = Effect.map(jobs.byId(run.id), Option.map((r) => r.state))
            const lines = tailRunLog(
              config.dataDir,
              run,
              Effect.map(stateNow, (s) => Option.isSome(s) && isActive(s.value))
            ).pipe(Stream.map((line) => sseEvent(JSON.stringify(line))))
            const end = Stream.fromEffect(
              Effect.map(stateNow, (s) => sseEvent(JSON.stringify({ run: run.id, state: Option.getOrNull(s) }), "end"))
            )
            return yield* sessionSse(auth, Stream.concat(Stream.make(SSE_PREAMBLE), Stream.concat(lines, end)))
          })
        )
    })
  )
