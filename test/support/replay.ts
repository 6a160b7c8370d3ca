/** Runs a fixture object (as in fixtures/replays) through the real replay driver. */
import { Effect, Either, Logger, LogLevel } from "effect"
import { decodeFixture } from "../../schemas/fixture.ts"
import { replay, type ReplayResult } from "../../kernel/replay/driver.ts"

export const replayObject = (fixture: unknown): Effect.Effect<ReplayResult> =>
  Effect.suspend(() => {
    const decoded = decodeFixture(JSON.stringify(fixture))
    if (Either.isLeft(decoded)) return Effect.dieMessage(decoded.left)
    return replay(decoded.right)
  }).pipe(Logger.withMinimumLogLevel(LogLevel.None))

export const runReplay = (fixture: unknown) => Effect.runPromise(replayObject(fixture))

export type Run = Readonly<Record<string, unknown>>
export const runsOf = (result: ReplayResult, snapshot = "final") =>
  (result.snapshots[snapshot]?.runs ?? []) as ReadonlyArray<Run>
export const kinds = (result: ReplayResult) => result.trace.map((e) => e.kind)
