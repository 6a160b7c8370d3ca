/** GET /api/live-runs: which pipelines the executor follows right now (kernel/http/liveRuns.ts). */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../../../schemas/api.ts"
import { LiveRuns } from "../liveRuns.ts"

export const ExecutorLive = HttpApiBuilder.group(Api, "executor", (handlers) =>
  Effect.map(LiveRuns, (live) => handlers.handle("liveRuns", () => live.get))
)
