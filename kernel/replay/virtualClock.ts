/**
 * The replay's clock: time moves only when the driver says so, and sleepers
 * wake in due order (ties in the order they went to sleep). Unlike TestClock
 * it never waits on real timers between wake-ups; the driver settles the
 * system itself (settle.ts), which is what keeps a month of history fast.
 */
import { Clock, Duration, Effect } from "effect"

interface Sleeper {
  readonly due: number
  readonly seq: number
  readonly wake: () => void
}

export class VirtualClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  private now: number
  private seq = 0
  private sleepers: Array<Sleeper> = []

  constructor(start: number) {
    this.now = start
  }

  unsafeCurrentTimeMillis(): number {
    return this.now
  }
  get currentTimeMillis(): Effect.Effect<number> {
    return Effect.sync(() => this.now)
  }
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(this.now) * 1_000_000n
  }
  get currentTimeNanos(): Effect.Effect<bigint> {
    return Effect.sync(() => this.unsafeCurrentTimeNanos())
  }

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const sleeper: Sleeper = { due: this.now + Duration.toMillis(duration), seq: this.seq++, wake: () => resume(Effect.void) }
      this.sleepers.push(sleeper)
      return Effect.sync(() => {
        this.sleepers = this.sleepers.filter((s) => s !== sleeper)
      })
    })
  }

  /** The earliest instant someone is waiting for. */
  nextDue(): number | undefined {
    let min: number | undefined
    for (const s of this.sleepers) if (min === undefined || s.due < min) min = s.due
    return min
  }

  /** Moves time to `instant` (never backwards) and wakes everyone due by then, in order. */
  setTime(instant: number): void {
    this.now = Math.max(this.now, instant)
    const due = this.sleepers.filter((s) => s.due <= this.now).sort((a, b) => a.due - b.due || a.seq - b.seq)
    this.sleepers = this.sleepers.filter((s) => s.due > this.now)
    for (const s of due) s.wake()
  }
}
