/**
 * Sign-in throttling: repeated wrong passwords lock sign-in for a while, per
 * user name and per client address, so a guesser gets a handful of tries per
 * window instead of seven a second.
 *
 * Counting rule: failures within WINDOW_MS are counted per key; reaching the
 * key's limit locks the key for LOCK_MS from that failure. A success clears
 * the user-name key (not the address: one good password from an address
 * must not reopen guessing at other names). Locked attempts are refused
 * before the password is checked, so a locked guesser learns nothing.
 * Memory is bounded: at most MAX_KEYS keys are tracked, the stalest dropped.
 */
import { Clock, Effect, Option, Ref } from "effect"

export const WINDOW_MS = 15 * 60 * 1000
export const LOCK_MS = 15 * 60 * 1000
export const USER_FAILURE_LIMIT = 5
export const ADDRESS_FAILURE_LIMIT = 20
const MAX_KEYS = 10_000

interface Entry {
  readonly failures: ReadonlyArray<number>
  readonly lockedUntil: number
}

const userKey = (name: string) => `user:${name}`
const addressKey = (address: string) => `addr:${address}`

export interface SignInThrottle {
  /** Seconds until sign-in is allowed again for this name or address, or None when it is allowed now. */
  readonly lockedFor: (name: string, address: string) => Effect.Effect<Option.Option<number>>
  readonly recordFailure: (name: string, address: string) => Effect.Effect<void>
  readonly recordSuccess: (name: string) => Effect.Effect<void>
}

export const makeSignInThrottle = Effect.gen(function* () {
  const entries = yield* Ref.make<ReadonlyMap<string, Entry>>(new Map())

  const lockedFor = (name: string, address: string) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const map = yield* Ref.get(entries)
      const until = Math.max(map.get(userKey(name))?.lockedUntil ?? 0, map.get(addressKey(address))?.lockedUntil ?? 0)
      return until > now ? Option.some(Math.ceil((until - now) / 1000)) : Option.none<number>()
    })

  const bump = (map: Map<string, Entry>, key: string, limit: number, now: number) => {
    const before = map.get(key)
    const failures = [...(before?.failures ?? []).filter((t) => t > now - WINDOW_MS), now]
    const lockedUntil = failures.length >= limit ? now + LOCK_MS : (before?.lockedUntil ?? 0)
    map.delete(key)
    map.set(key, { failures: failures.length >= limit ? [] : failures, lockedUntil })
  }

  const recordFailure = (name: string, address: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Ref.update(entries, (m) => {
        const next = new Map(m)
        bump(next, userKey(name), USER_FAILURE_LIMIT, now)
        bump(next, addressKey(address), ADDRESS_FAILURE_LIMIT, now)
        // Insertion order is recency order: drop the stalest keys beyond the bound.
        for (const key of next.keys()) {
          if (next.size <= MAX_KEYS) break
          next.delete(key)
        }
        return next
      })
    )

  const recordSuccess = (name: string) =>
    Ref.update(entries, (m) => {
      if (!m.has(userKey(name))) return m
      const next = new Map(m)
      next.delete(userKey(name))
      return next
    })

  const throttle: SignInThrottle = { lockedFor, recordFailure, recordSuccess }
  return throttle
})
