/**
 * Sessions survive a requested restart, so "Restart now" does not sign
 * everyone out and the dashboard reconnects by itself.
 *
 * Only on the orderly stop of a requested restart are the live sessions
 * written to `<dataDir>/session-handoff.json` (mode 0600, beside the
 * database that is just as private). The next start reads the file, deletes
 * it at once, and adopts the sessions only if the file is younger than
 * HANDOFF_MAX_AGE_MS and only for users that still exist with the same role.
 * A crash or a plain stop writes nothing: then everyone signs in again.
 */
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Clock, Effect, Layer, Schema } from "effect"
import { Role } from "../../schemas/api/access.ts"
import type { StaticConfig } from "../../schemas/config.ts"
import { KernelLifecycle } from "../restart.ts"
import { HttpAuth } from "./auth.ts"

const HANDOFF_MAX_AGE_MS = 5 * 60 * 1000

const Handed = Schema.parseJson(
  Schema.Array(
    Schema.Struct({
      token: Schema.String,
      csrfToken: Schema.String,
      user: Schema.Struct({ name: Schema.String, role: Role }),
      expiresAt: Schema.Number,
      createdAt: Schema.optional(Schema.Number)
    })
  )
)

export const handoffFile = (dataDir: string) => join(dataDir, "session-handoff.json")

const adopt = (file: string) =>
  Effect.gen(function* () {
    if (!existsSync(file)) return
    const now = yield* Clock.currentTimeMillis
    const text = yield* Effect.sync(() => {
      const age = now - statSync(file).mtimeMs
      const content = readFileSync(file, "utf8")
      rmSync(file, { force: true })
      return age <= HANDOFF_MAX_AGE_MS ? content : ""
    })
    if (text === "") return
    const sessions = yield* Schema.decodeUnknown(Handed)(text)
    const auth = yield* HttpAuth
    const adopted = yield* auth.adoptSessions(sessions)
    yield* Effect.logInfo(`kept ${adopted} dashboard session(s) across the restart`)
  }).pipe(Effect.catchAllCause((cause) => Effect.logWarning("session hand-over not read", cause)))

const handOver = (file: string) =>
  Effect.gen(function* () {
    const lifecycle = yield* KernelLifecycle
    if (!(yield* lifecycle.restarting)) return
    const auth = yield* HttpAuth
    const sessions = yield* auth.liveSessions
    yield* Effect.sync(() => writeFileSync(file, JSON.stringify(sessions), { mode: 0o600 }))
  }).pipe(Effect.catchAllCause((cause) => Effect.logWarning("session hand-over not written", cause)))

export const sessionHandoffLayer = (config: StaticConfig) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const file = handoffFile(config.dataDir)
      yield* adopt(file)
      const context = yield* Effect.context<HttpAuth | KernelLifecycle>()
      yield* Effect.addFinalizer(() => Effect.provide(handOver(file), context))
    })
  ).pipe(Layer.provide(KernelLifecycle.Default))
