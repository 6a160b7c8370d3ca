/** Time for kernel and actors comes only from Effect's Clock, so replays are deterministic. */
import { Clock, Duration, Effect } from "effect"

export const isoFromMillis = (millis: number): string => new Date(millis).toISOString()

export const nowIso: Effect.Effect<string> = Effect.map(Clock.currentTimeMillis, isoFromMillis)

export const isoAfter = (seconds: number): Effect.Effect<string> =>
  Effect.map(Clock.currentTimeMillis, (ms) => isoFromMillis(ms + seconds * 1000))

export const millisUntil = (iso: string): Effect.Effect<Duration.Duration> =>
  Effect.map(Clock.currentTimeMillis, (ms) => Duration.millis(Math.max(0, Date.parse(iso) - ms)))
