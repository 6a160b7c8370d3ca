/**
 * Settling: letting every actor process everything it can at the current
 * virtual instant before the clock moves. The mailboxes count what is posted
 * and not yet handled; a macrotask turn lets every runnable fiber run. The
 * system is settled when several turns in a row find nothing pending.
 * (A macrotask is not time: no timer and no clock reading is involved.)
 */
import { Effect } from "effect"
import type { VirtualClock } from "./virtualClock.ts"
import { Activity } from "../activity.ts"

const QUIET_TURNS = 3

const macrotask = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

export const settle = Effect.gen(function* () {
  const activity = yield* Activity
  let quiet = 0
  while (quiet < QUIET_TURNS) {
    yield* macrotask
    quiet = (yield* activity.pending) === 0 ? quiet + 1 : 0
  }
})

/** Moves the clock to `target`, firing every timer at its own instant, settling after each. */
export const advanceTo = (clock: VirtualClock, target: number) =>
  Effect.gen(function* () {
    yield* settle
    for (;;) {
      const next = clock.nextDue()
      if (next === undefined || next > target) {
        clock.setTime(target)
        yield* settle
        return
      }
      clock.setTime(next)
      yield* settle
    }
  })
