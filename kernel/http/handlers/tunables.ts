/** Several tunables at once; the payload schema has already refused anything out of range. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../../../schemas/api.ts"
import { TUNABLE_KEYS, TUNABLES, type TunableKey } from "../../../schemas/tunables.ts"
import { TunableStore } from "../../store/tunables.ts"
import { execute } from "./commands.ts"

export const TunablesLive = HttpApiBuilder.group(Api, "tunables", (handlers) =>
  Effect.gen(function* () {
    const store = yield* TunableStore
    return handlers.handle("setTunables", ({ payload }) =>
      Effect.gen(function* () {
        const before = yield* store.get
        const keys = TUNABLE_KEYS.filter((k) => payload.values[k] !== undefined)
        const results = yield* Effect.forEach(keys, (key) =>
          Effect.map(execute({ _tag: "set_tunable", key, value: payload.values[key] }), (r) => ({
            key,
            ok: r.ok,
            message: r.message
          }))
        )
        const restartRequired: Array<TunableKey> = keys.filter(
          (k) => TUNABLES[k].restartRequired && payload.values[k] !== before[k] && results.some((r) => r.key === k && r.ok)
        )
        const failed = results.filter((r) => !r.ok)
        const message =
          failed.length > 0
            ? `${results.length - failed.length} of ${results.length} saved; refused: ${failed.map((f) => f.message).join("; ")}`
            : `${results.length} saved${restartRequired.length > 0 ? `; restart needed for ${restartRequired.join(", ")}` : ""}`
        return { ok: failed.length === 0, message, results, restartRequired }
      })
    )
  })
)
