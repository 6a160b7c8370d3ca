/**
 * Restart on request ("Restart now" in the dashboard).
 *
 * The allocator cannot start itself again; it stops in order and leaves with
 * exit code 75 (EX_TEMPFAIL, "restart requested"), and whatever supervises it
 * starts it again: systemd with Restart=always, or the `make run` launcher,
 * which restarts on 75 only. The entry point waits on `requested`, lets
 * every layer's finalizers run (actors interrupted, pipelines handed over as
 * the executor contract says, the database closed) and then exits with 75.
 *
 * It also remembers the tunables as they were when this process started:
 * restart-required values are read once at start, so a stored value that
 * differs from that snapshot is pending until the next restart.
 */
import { Clock, Deferred, Effect } from "effect"
import { TUNABLE_KEYS, TUNABLES, type TunableKey } from "../schemas/tunables.ts"
import { TunableStore } from "./store/tunables.ts"
import { isoFromMillis } from "./time.ts"

export const RESTART_EXIT_CODE = 75

export interface PendingValue {
  readonly key: TunableKey
  readonly running: number
  readonly stored: number
}

export class KernelLifecycle extends Effect.Service<KernelLifecycle>()("kernel/KernelLifecycle", {
  effect: Effect.gen(function* () {
    const tunables = yield* TunableStore
    const atStart = yield* tunables.get
    const startedAt = isoFromMillis(yield* Clock.currentTimeMillis)
    const restart = yield* Deferred.make<string>()

    return {
      /** An Effect, not a value: the dashboard server's view of it changes when the kernel restarts. */
      startedAt: Effect.succeed(startedAt) as Effect.Effect<string>,
      /** Restart-required tunables whose stored value is not the one this process runs with. */
      pending: Effect.map(tunables.get, (stored): ReadonlyArray<PendingValue> =>
        TUNABLE_KEYS.filter((key) => TUNABLES[key].restartRequired && stored[key] !== atStart[key]).map((key) => ({
          key,
          running: atStart[key],
          stored: stored[key]
        }))
      ),
      /** Asks for an orderly stop followed by exit code 75; `by` is logged. Later requests change nothing. */
      request: (by: string) =>
        Effect.zipRight(
          Effect.logWarning("restart requested: stopping in order, then exiting with code 75").pipe(
            Effect.annotateLogs("user", by)
          ),
          Deferred.succeed(restart, by)
        ),
      restarting: Deferred.isDone(restart),
      /** Resolves with who asked, once a restart was asked for. */
      requested: Deferred.await(restart)
    }
  })
}) {}
