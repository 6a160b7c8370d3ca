/**
 * Kill handler (rule 9). A kill of a terminal row is refused at once.
 * Otherwise it waits KILL_GRACE_MS (clicks are human-paced; a pipeline that
 * exits meanwhile is routed normally), re-reads the row, and if it is still
 * active ends it Firestore-first, guarded on the active states, and only then
 * asks the executor to stop the pipeline (SIGTERM to its group, SIGKILL after
 * TERM_GRACE). The worker following the run sees its exit find the row ended
 * and changes nothing. No email: an operator did it. Each kill runs in its
 * own fiber so one grace period never delays another command.
 */
import { Deferred, Duration, Effect, Either, Option, Schedule } from "effect"
import { ACTIVE_STATES, isActive } from "../schemas/job.ts"
import { done, refused } from "../schemas/commands.ts"
import { PermanentFailure } from "../kernel/failure.ts"
import { type CommandEnvelope, KillMailbox } from "../kernel/mailboxes.ts"
import { resolveRunRef } from "../kernel/runRef.ts"
import { Executor } from "../kernel/ports/executor.ts"
import { JobStore } from "../kernel/store/jobs.ts"
import { TunableStore } from "../kernel/store/tunables.ts"
import { actorLayer } from "../kernel/supervise.ts"

/** Between SIGTERM and SIGKILL. */
const TERM_GRACE = Duration.seconds(3)

/** Stopping a killed row's pipeline while the executor is unreachable: 200 ms doubling to at most 10 s apart. */
const UNTIL_REACHABLE = Schedule.exponential("200 millis", 2).pipe(Schedule.union(Schedule.spaced("10 seconds")))

const killer = Effect.gen(function* () {
  const mailbox = yield* KillMailbox
  const jobs = yield* JobStore
  const tunables = yield* TunableStore
  const failure = yield* PermanentFailure
  const executor = yield* Executor
  const context = yield* Effect.context<JobStore>()

  const kill = (envelope: CommandEnvelope) =>
    Effect.gen(function* () {
      const { command, user } = envelope
      if (command._tag !== "kill") return refused(`kill handler cannot run ${command._tag}`)
      const resolved = yield* resolveRunRef(command).pipe(Effect.provide(context))
      if (Either.isLeft(resolved)) return refused(resolved.left)
      const run = resolved.right
      if (!isActive(run.state)) return refused(`run ${run.id} is already ${run.state}`)

      yield* Effect.sleep(Duration.millis((yield* tunables.get).KILL_GRACE_MS))
      const now = yield* jobs.byId(run.id)
      if (Option.isNone(now) || !isActive(now.value.state)) {
        const state = Option.match(now, { onNone: () => "gone", onSome: (r) => r.state })
        yield* Effect.logInfo(`kill of run ${run.id} abandoned: it became ${state} during the grace period`)
        return refused(`abandoned: run ${run.id} became ${state} during the grace period`)
      }
      const outcome = yield* failure.failPermanently({
        run: now.value,
        from: ACTIVE_STATES,
        reason: `Killed by ${user}`,
        exitCode: null,
        email: false,
        onWriteFailure: "refuse"
      })
      switch (outcome._tag) {
        case "FailedPermanent":
          // A queued row has no pipeline: the executor knows no such run and returns at once.
          // An executor that cannot be reached now (its host restarting) is asked again until it answers:
          // the row is already terminal, so nothing else would ever stop this pipeline.
          yield* executor.kill(run.id, TERM_GRACE).pipe(
            Effect.catchAll((e) =>
              Effect.logWarning(`run ${run.id} is failed_permanent but its pipeline could not be stopped yet: ${e.message}; asking again`).pipe(
                Effect.zipRight(Effect.retry(executor.kill(run.id, TERM_GRACE), UNTIL_REACHABLE).pipe(Effect.ignore, Effect.forkScoped))
              )
            )
          )
          return done(`run ${run.id} killed`, run.id)
        case "WriteFailed":
          return refused(`Firestore write failed, run ${run.id} left as it was: ${outcome.message}`)
        default:
          yield* Effect.logWarning(`kill of run ${run.id}: the worker finished it first`)
          return refused(`abandoned: run ${run.id} finished before the kill took effect`)
      }
    }).pipe(Effect.flatMap((result) => Deferred.succeed(envelope.reply, result)))

  return yield* mailbox.serve((envelope) => Effect.forkScoped(kill(envelope)))
}).pipe(Effect.scoped)

export const KillerLive = actorLayer("killer", killer)
