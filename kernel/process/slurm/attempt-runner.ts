/**
 * Runs one attempt inside its Slurm batch job, on the compute node:
 *
 *   attempt.json ──▶ launcher.prepare ──▶ pipeline in its own process group
 *        ──▶ exit (or a signal from Slurm: SIGTERM the group, grace, SIGKILL)
 *        ──▶ launcher.finish ──▶ exit.json (atomic) ──▶ exit with the pipeline's code
 *
 * The exit file is what lets the allocator route the attempt by its real code
 * after the controller has forgotten the job, or when the allocator itself
 * was down. An attempt whose exit file already exists is never run again.
 *
 * The command-line entry is `run-attempt.ts`; tests give their own launcher choice.
 */
import { hostname } from "node:os"
import { Clock, DateTime, Deferred, Duration, Effect, Exit, Option } from "effect"
import type { AttemptFile, RecordedExit } from "../../../schemas/slurm.ts"
import type { PipelineExit } from "../../ports/executor.ts"
import { spawnGroup } from "../group.ts"
import type { Launcher, RawExit } from "../launch.ts"
import { exitPath, jobIdPath, readAttempt, readExit, readJobId, writeAtomic } from "./records.ts"

const forwardedSignals: ReadonlyArray<NodeJS.Signals> = ["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"]
const signalNumbers: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 }

/** The process exit code that tells Slurm how it went (a shell's convention for signals). */
const processCode = (exit: PipelineExit): number => {
  if (exit.code !== null) return exit.code === 0 && exit.errorMessage !== undefined ? 1 : exit.code
  return 128 + (exit.signal === null ? 0 : (signalNumbers[exit.signal] ?? 0))
}

const record = (runDir: string, exit: PipelineExit, signalledBy: string | undefined) =>
  Effect.gen(function* () {
    const finishedAt = DateTime.formatIso(DateTime.unsafeMake(yield* Clock.currentTimeMillis))
    const recorded: RecordedExit = {
      code: exit.code,
      signal: exit.signal,
      ...(exit.errorMessage === undefined ? {} : { errorMessage: exit.errorMessage }),
      ...(signalledBy === undefined ? {} : { signalledBy }),
      host: hostname(),
      finishedAt
    }
    yield* Effect.promise(() => writeAtomic(exitPath(runDir), JSON.stringify(recorded)))
    return processCode(exit)
  })

export const runAttempt = (runDir: string, launcherFor: (attempt: AttemptFile) => Launcher): Effect.Effect<number> =>
  Effect.gen(function* () {
    const attempt = yield* readAttempt(runDir)
    if (attempt === undefined) {
      return yield* record(runDir, { code: null, signal: null, errorMessage: `no readable attempt.json in ${runDir}` }, undefined)
    }
    const jobId = process.env["SLURM_JOB_ID"]
    // The allocator may have died between sbatch and writing the id: the job says it itself.
    if (jobId !== undefined && (yield* readJobId(runDir)) === undefined) {
      yield* Effect.promise(() => writeAtomic(jobIdPath(runDir), `${jobId}\n`))
    }
    const earlier = yield* readExit(runDir)
    if (earlier !== undefined) return processCode(earlier)

    const spec = attempt.spec
    const signalled = yield* Deferred.make<NodeJS.Signals>()
    for (const signal of forwardedSignals) {
      process.on(signal, () => Deferred.unsafeDone(signalled, Exit.succeed(signal)))
    }
    const launcher = launcherFor(attempt)
    const launch = yield* launcher.prepare(spec).pipe(Effect.either)
    if (launch._tag === "Left") {
      const exit = { code: null, signal: null, errorMessage: `could not start on ${hostname()}: ${launch.left.message}` }
      return yield* record(runDir, exit, undefined)
    }
    const { command, args, env, cwd, timeLimitMs } = launch.right

    type Ending =
      | { readonly _tag: "Exited"; readonly code: number | null; readonly signal: string | null }
      | { readonly _tag: "Signalled"; readonly by: NodeJS.Signals }
      | { readonly _tag: "TimedOut" }
      | { readonly _tag: "SpawnFailed"; readonly message: string }

    // The scope's end is the group's end: SIGTERM, the grace, SIGKILL (group.ts).
    const ran = yield* Effect.scoped(
      Effect.gen(function* () {
        const group = yield* spawnGroup({
          command,
          args,
          env,
          logFile: spec.logFile,
          killGrace: Duration.millis(attempt.killGraceMs),
          ...(cwd === undefined ? {} : { cwd })
        })
        const racers: Array<Effect.Effect<Ending>> = [
          Effect.map(group.exit, (e): Ending => ({ _tag: "Exited", code: e.code, signal: e.signal })),
          Effect.map(Deferred.await(signalled), (by): Ending => ({ _tag: "Signalled", by })),
          ...(timeLimitMs === undefined ? [] : [Effect.as(Effect.sleep(Duration.millis(timeLimitMs)), { _tag: "TimedOut" } as Ending)])
        ]
        const ending = yield* Effect.raceAll(racers)
        return { ending, exit: group.exit }
      })
    ).pipe(Effect.catchTag("SpawnError", (e) => Effect.succeed({ ending: { _tag: "SpawnFailed", message: e.message } as Ending, exit: undefined })))

    if (ran.ending._tag === "SpawnFailed") {
      return yield* record(runDir, { code: null, signal: null, errorMessage: ran.ending.message }, undefined)
    }
    // After the scope: the group is gone and node has reaped the leader, so its exit is settled.
    const last = ran.exit === undefined ? undefined : yield* ran.exit.pipe(Effect.timeout(Duration.seconds(5)), Effect.option)
    const leader = last?._tag === "Some" ? last.value : { code: null, signal: "SIGKILL" }
    const raw: RawExit = {
      code: ran.ending._tag === "Exited" ? ran.ending.code : leader.code,
      signal: ran.ending._tag === "Exited" ? ran.ending.signal : leader.signal,
      timedOut: ran.ending._tag === "TimedOut"
    }
    const exit = yield* launcher.finish(spec, raw)
    // scancel --full and a time limit signal the pipeline too, which may exit before our handler runs.
    const pending = Option.getOrUndefined(yield* Deferred.poll(signalled))
    const by = ran.ending._tag === "Signalled" ? ran.ending.by : pending === undefined ? undefined : yield* pending
    const code = yield* record(runDir, exit, by)
    // exit.json on the shared filesystem holds the outcome now: the sandbox's own copy can go.
    yield* launcher.release(spec.runId)
    return code
  })

