/**
 * Live updates as Server-Sent Events: every AllocatorEvent (through one
 * shared fan-out, sseHub.ts: a client that has seen the preamble misses
 * nothing after it), and the tail of one attempt's log.
 */
import { HttpApiBuilder, HttpServerRequest } from "@effect/platform"
import { Effect, Option, Stream } from "effect"
import { Api, NotFound, SESSION_COOKIE } from "../../../schemas/api.ts"
import type { StaticConfig } from "../../../schemas/config.ts"
import { isActive } from "../../../schemas/job.ts"
import { JobStore } from "../../store/jobs.ts"
import { tailRunLog } from "../logs.ts"
import { HttpAuth } from "../auth.ts"
import { SSE_PREAMBLE, sessionSse, sseEvent } from "../sse.ts"
import { makeSseHub } from "../sseHub.ts"

export const liveLive = (config: StaticConfig) =>
  HttpApiBuilder.group(Api, "live", (handlers) =>
    Effect.gen(function* () {
      const hub = yield* makeSseHub
      const jobs = yield* JobStore
      const auth = yield* HttpAuth

      return handlers
        .handle("events", () =>
          Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
            hub.open(auth.whenEnded(request.cookies[SESSION_COOKIE] ?? ""))
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
