/**
 * The Slurm executor: one batch job per attempt, followed by one batched
 * `squeue` per poll interval for every job it follows.
 *
 * Life of one attempt here:
 *
 *   start: attempt.json + batch.sh ──sbatch──▶ job-id ──▶ followed
 *   poll:  exit.json on the shared filesystem?  ──yes──▶ Exited (asking the
 *          │ no                                           controller first if the
 *          ▼                                              job was signalled)
 *          squeue state: active ──▶ keep following
 *                        ended  ──▶ Exited (see states.ts for precedence)
 *                        unknown to the controller, twice, and no exit file ──▶ Lost
 *   acknowledge: the record is removed.
 *
 * Ordering rules:
 * - attempt.json is written before sbatch and job-id after it; a crash between
 *   the two is repaired by looking the job up by its name (`lomi-<runId>-…`),
 *   so a retried start adopts the job instead of submitting a second one.
 * - A controller outage fails `start` and `status` with ExecutorUnavailable
 *   (nothing submitted, nothing decided) and pauses nothing else: followed
 *   jobs keep running on their nodes, and their exit files are still read
 *   every interval, so an exit during the outage is routed by its real code.
 */
import { promises as fs } from "node:fs"
import { dirname } from "node:path"
import { Clock, DateTime, Deferred, Duration, Effect, Layer, type Scope } from "effect"
import type { ExecutorConfig, StaticConfig } from "../../../schemas/config.ts"
import type { AttemptFile, RecordedExit } from "../../../schemas/slurm.ts"
import {
  Executor,
  ExecutorUnavailable,
  type ExecutorShape,
  type LiveRun,
  type PipelineSpec,
  type RunStatus,
  SpawnError
} from "../../ports/executor.ts"
import { batchScript, jobName, parseSubmitted, sbatchArgs } from "./batch.ts"
import { failureLine, makeSlurmClient, type SlurmClient } from "./client.ts"
import {
  attemptPath,
  batchScriptPath,
  jobIdPath,
  readExit,
  readJobId,
  readRecord,
  removeRecord,
  runDir,
  writeAtomic
} from "./records.ts"
import { exitOf, isActiveState } from "./states.ts"

export type SlurmConfig = Extract<ExecutorConfig, { kind: "slurm" }>
type Ended = Extract<RunStatus, { _tag: "Exited" | "Lost" }>

export interface SlurmExecutorOptions {
  readonly slurm: SlurmConfig
  /** Per-run records and exit files (shared filesystem). */
  readonly stateDir: string
  /** argv that runs one attempt on a compute node; the run folder is appended. */
  readonly runner: ReadonlyArray<string>
  readonly paths: StaticConfig["paths"]
  readonly sandbox: StaticConfig["sandbox"]
  readonly sandboxEnabled: boolean
  /** Paths the sandbox hides from pipelines on the node (the allocator's database, config, credentials). */
  readonly hidden?: ReadonlyArray<string> | undefined
  /** Grace the node gives the pipeline's process group between SIGTERM and SIGKILL. */
  readonly nodeKillGraceMs: number
  /** Called once a job id is known (the allocator stores it on the row for the dashboard). */
  readonly onSubmitted?: ((runId: number, jobId: string) => Effect.Effect<void>) | undefined
}

export interface ControllerHealth {
  readonly ok: boolean
  readonly detail: string
  readonly checkedAt: string | undefined
}

export interface SlurmExecutorShape extends ExecutorShape {
  /** What the last call to the controller found (the poll, a submission, a kill). */
  readonly controller: Effect.Effect<ControllerHealth>
}

interface Followed {
  readonly runId: number
  readonly docId: string
  readonly jobId: string
  readonly startedAt: string
  state: string | undefined
  /** Consecutive polls in which the controller did not know the job and no exit file was there. */
  missing: number
  readonly done: Deferred.Deferred<Ended>
}

/** Polls in a row a job must be unknown (with no exit file) before it is Lost: the shared filesystem may lag. */
const missingPollsBeforeLost = 2
/** How often `kill` re-reads the job's state while it waits for it to go. */
const killPollInterval = Duration.millis(100)
/** After SIGKILL, how long `kill` waits for Slurm to finish the job before logging and returning. */
const afterKillWait = Duration.seconds(60)

/**
 * An exit file that waits for the controller's verdict: the runner saw a
 * signal, or the pipeline died of one. At a time limit or a node failure
 * Slurm signals every process of the job, and the pipeline may die before the
 * runner's own handler has run (seen on the real cluster: a TIMEOUT recorded
 * as a bare SIGTERM).
 */
const awaitsVerdict = (recorded: RecordedExit): boolean =>
  recorded.signalledBy !== undefined || (recorded.code === null && recorded.signal !== null && recorded.errorMessage === undefined)

const nowIso = Effect.map(Clock.currentTimeMillis, (ms) => DateTime.formatIso(DateTime.unsafeMake(ms)))

export const makeSlurmExecutor = (
  options: SlurmExecutorOptions,
  client: SlurmClient = makeSlurmClient(options.slurm)
): Effect.Effect<SlurmExecutorShape, never, Scope.Scope> =>
  Effect.gen(function* () {
    const followed = new Map<number, Followed>()
    let health: ControllerHealth = { ok: true, detail: "no call to the controller yet", checkedAt: undefined }

    const noteController = <A>(call: Effect.Effect<A, ExecutorUnavailable>) =>
      call.pipe(
        Effect.tapBoth({
          onFailure: (e) => Effect.map(nowIso, (at) => void (health = { ok: false, detail: e.message, checkedAt: at })),
          onSuccess: () =>
            Effect.map(nowIso, (at) => void (health = { ok: true, detail: "controller answering", checkedAt: at }))
        })
      )

    /** One squeue for all the given jobs: job id → state. Jobs the controller forgot are absent. */
    const jobStates = (jobIds: ReadonlyArray<string>): Effect.Effect<ReadonlyMap<string, string>, ExecutorUnavailable> =>
      jobIds.length === 0
        ? Effect.succeed(new Map())
        : noteController(
            Effect.flatMap(client.run("squeue", ["-h", "-t", "all", `--jobs=${jobIds.join(",")}`, "-o", "%i|%T"]), (r) => {
              if (r.code !== 0) {
                // A single forgotten id makes squeue fail; several forgotten ones are simply left out.
                return /Invalid job id/i.test(r.stderr)
                  ? Effect.succeed(new Map<string, string>())
                  : Effect.fail(new ExecutorUnavailable({ message: failureLine("squeue", r) }))
              }
              const states = new Map<string, string>()
              for (const line of r.stdout.split("\n")) {
                const [id, state] = line.trim().split("|")
                if (id !== undefined && id !== "" && state !== undefined) states.set(id, state.trim())
              }
              return Effect.succeed(states)
            })
          )

    /** A job found by its name: the repair for a crash (or timeout) between sbatch and writing job-id. */
    const jobByName = (spec: Pick<PipelineSpec, "runId" | "docId">): Effect.Effect<string | undefined, ExecutorUnavailable> =>
      noteController(
        Effect.flatMap(client.run("squeue", ["-h", "-t", "all", `--name=${jobName(spec)}`, "-o", "%i"]), (r) =>
          r.code === 0
            ? Effect.succeed(r.stdout.split("\n").map((l) => l.trim()).find((l) => l !== ""))
            : Effect.fail(new ExecutorUnavailable({ message: failureLine("squeue", r) }))
        )
      )

    /** The controller's `ExitCode` of an ended job, when the job left no exit file. */
    const controllerExitCode = (jobId: string): Effect.Effect<string | undefined> =>
      client.run("scontrol", ["show", "job", "-o", jobId]).pipe(
        Effect.map((r) => (r.code === 0 ? /\bExitCode=(\d+:\d+)/.exec(r.stdout)?.[1] : undefined)),
        Effect.orElseSucceed(() => undefined)
      )

    /**
     * How a run stands, from its exit file and (when given) the controller's
     * state; `controllerKnows` false means the controller answered without it.
     */
    const resolve = (
      runId: number,
      jobId: string,
      state: string | undefined
    ): Effect.Effect<{ readonly _tag: "Active"; readonly state: string } | Ended | { readonly _tag: "Missing" }> =>
      Effect.gen(function* () {
        const recorded = yield* readExit(runDir(options.stateDir, runId))
        // The pipeline is done (the job may still be COMPLETING); a signalled one waits for the controller's verdict.
        if (recorded !== undefined && !awaitsVerdict(recorded)) {
          return { _tag: "Exited" as const, exit: exitOf({ jobId, state: undefined, recorded }) ?? recorded }
        }
        if (state !== undefined && isActiveState(state)) return { _tag: "Active" as const, state }
        if (state === undefined && recorded === undefined) return { _tag: "Missing" as const }
        const needsCode = recorded === undefined && state !== undefined
        const exitCode = needsCode ? yield* controllerExitCode(jobId) : undefined
        const exit = exitOf({ jobId, state, exitCode, recorded })
        return {
          _tag: "Exited" as const,
          exit: exit ?? {
            code: null,
            signal: null,
            errorMessage: `Slurm job ${jobId} ended ${state ?? ""} without an exit code`
          }
        }
      })

    const settle = (f: Followed, ended: Ended) =>
      Effect.zipRight(
        Deferred.succeed(f.done, ended),
        Effect.log(`Slurm job ${f.jobId} ended: ${ended._tag === "Lost" ? ended.message : JSON.stringify(ended.exit)}`).pipe(
          Effect.annotateLogs({ run: f.runId, doc: f.docId, job: f.jobId })
        )
      )

    /** One poll: exit files first (no controller needed), then one squeue for the rest. */
    const pollOnce = Effect.gen(function* () {
      const open: Array<Followed> = []
      for (const f of followed.values()) if (!(yield* Deferred.isDone(f.done))) open.push(f)
      if (open.length === 0) return
      const needController: Array<Followed> = []
      for (const f of open) {
        const recorded = yield* readExit(runDir(options.stateDir, f.runId))
        if (recorded !== undefined && !awaitsVerdict(recorded)) {
          yield* settle(f, { _tag: "Exited", exit: exitOf({ jobId: f.jobId, state: undefined, recorded }) ?? recorded })
        } else {
          needController.push(f)
        }
      }
      if (needController.length === 0) return
      const states = yield* jobStates(needController.map((f) => f.jobId)).pipe(Effect.either)
      if (states._tag === "Left") {
        // Controller down: a signalled job's exit file is all there is; running jobs wait for the next poll.
        for (const f of needController) {
          const recorded = yield* readExit(runDir(options.stateDir, f.runId))
          if (recorded !== undefined) {
            yield* settle(f, { _tag: "Exited", exit: exitOf({ jobId: f.jobId, state: undefined, recorded }) ?? recorded })
          }
        }
        return
      }
      for (const f of needController) {
        const state = states.right.get(f.jobId)
        const outcome = yield* resolve(f.runId, f.jobId, state)
        if (outcome._tag === "Active") {
          f.state = outcome.state
          f.missing = 0
        } else if (outcome._tag === "Missing") {
          f.missing += 1
          if (f.missing >= missingPollsBeforeLost) {
            yield* settle(f, {
              _tag: "Lost",
              message: `Slurm job ${f.jobId} is unknown to the controller and left no exit status`
            })
          }
        } else {
          yield* settle(f, outcome)
        }
      }
    })

    yield* pollOnce.pipe(
      Effect.catchAllCause((cause) => Effect.logWarning("Slurm poll failed", cause)),
      Effect.zipRight(Effect.sleep(Duration.millis(options.slurm.pollIntervalMs))),
      Effect.forever,
      Effect.forkScoped
    )

    const follow = (runId: number, docId: string, jobId: string) =>
      Effect.gen(function* () {
        const existing = followed.get(runId)
        if (existing !== undefined) return existing
        const f: Followed = {
          runId,
          docId,
          jobId,
          startedAt: yield* nowIso,
          state: undefined,
          missing: 0,
          done: yield* Deferred.make<Ended>()
        }
        followed.set(runId, f)
        return f
      })

    const recordJobId = (runId: number, jobId: string) =>
      Effect.zipRight(
        Effect.promise(() => writeAtomic(jobIdPath(runDir(options.stateDir, runId)), `${jobId}\n`)),
        options.onSubmitted === undefined
          ? Effect.void
          : options.onSubmitted(runId, jobId).pipe(
              Effect.catchAllCause((cause) => Effect.logWarning("could not store the Slurm job id on the row", cause))
            )
      )

    const submit = (spec: PipelineSpec): Effect.Effect<string, SpawnError | ExecutorUnavailable> =>
      Effect.gen(function* () {
        const dir = runDir(options.stateDir, spec.runId)
        const resources = options.slurm.services[spec.service as keyof SlurmConfig["services"]]
        if (resources === undefined) {
          return yield* Effect.fail(new SpawnError({ message: `no Slurm resources configured for service ${spec.service}` }))
        }
        const attempt: AttemptFile = {
          spec: { ...spec, env: { ...spec.env } },
          sandboxEnabled: options.sandboxEnabled,
          killGraceMs: options.nodeKillGraceMs,
          paths: options.paths,
          sandbox: options.sandbox,
          hidden: [...(options.hidden ?? [])]
        }
        const written = yield* Effect.tryPromise({
          try: async () => {
            await fs.mkdir(dir, { recursive: true })
            await fs.mkdir(dirname(spec.logFile), { recursive: true })
            await writeAtomic(attemptPath(dir), JSON.stringify(attempt), 0o600)
            await writeAtomic(batchScriptPath(dir), batchScript(spec, options.runner, dir), 0o700)
          },
          catch: (e) => new SpawnError({ message: `cannot write the Slurm job files in ${dir}: ${String(e)}` })
        }).pipe(Effect.either)
        if (written._tag === "Left") return yield* Effect.fail(written.left)
        const args = sbatchArgs(
          spec,
          { partition: options.slurm.partition, account: options.slurm.account, resources, sbatchOptions: options.slurm.sbatchOptions },
          batchScriptPath(dir),
          dir
        )
        const result = yield* noteController(client.run("sbatch", args))
        if (result.code !== 0) {
          yield* removeRecord(options.stateDir, spec.runId)
          return yield* Effect.fail(new SpawnError({ message: failureLine("sbatch", result) }))
        }
        const jobId = parseSubmitted(result.stdout)
        if (jobId === undefined) {
          return yield* Effect.fail(new SpawnError({ message: `sbatch printed no job id: ${result.stdout.trim()}` }))
        }
        yield* recordJobId(spec.runId, jobId)
        return jobId
      })

    const start: ExecutorShape["start"] = (spec) =>
      Effect.gen(function* () {
        const record = yield* readRecord(options.stateDir, spec.runId)
        let jobId = record.jobId
        if (jobId === undefined && record.attempt !== undefined) {
          // An earlier start got as far as sbatch: adopt what it submitted rather than submit twice.
          jobId = yield* jobByName(spec)
          if (jobId !== undefined) yield* recordJobId(spec.runId, jobId)
        }
        if (jobId === undefined) jobId = yield* submit(spec)
        yield* follow(spec.runId, spec.docId, jobId)
        return { _tag: "Running" as const, externalId: jobId }
      }).pipe(Effect.annotateLogs({ run: spec.runId, doc: spec.docId }), Effect.withSpan("SlurmExecutor.start"))

    /** The job id of a run this executor did not start (an earlier allocator did). */
    const knownJobId = (runId: number): Effect.Effect<{ jobId: string; docId: string } | undefined, ExecutorUnavailable> =>
      Effect.gen(function* () {
        const f = followed.get(runId)
        if (f !== undefined) return { jobId: f.jobId, docId: f.docId }
        const record = yield* readRecord(options.stateDir, runId)
        const docId = record.attempt?.spec.docId ?? ""
        if (record.jobId !== undefined) return { jobId: record.jobId, docId }
        if (record.attempt === undefined) return undefined
        const found = yield* jobByName({ runId, docId })
        if (found !== undefined) yield* recordJobId(runId, found)
        return found === undefined ? undefined : { jobId: found, docId }
      })

    const awaitExit: ExecutorShape["awaitExit"] = (runId) =>
      Effect.gen(function* () {
        const known = yield* knownJobId(runId)
        if (known === undefined) {
          const recorded = yield* readExit(runDir(options.stateDir, runId))
          if (recorded !== undefined) return { _tag: "Exited" as const, exit: exitOf({ jobId: "?", state: undefined, recorded }) ?? recorded }
          return { _tag: "Lost" as const, message: `no Slurm job was recorded for run ${runId}` }
        }
        const f = yield* follow(runId, known.docId, known.jobId)
        return yield* Deferred.await(f.done)
      })

    const status: ExecutorShape["status"] = (runIds) =>
      Effect.gen(function* () {
        const out = new Map<number, RunStatus>()
        const jobs = new Map<number, string>()
        const docs = new Map<number, string>()
        for (const runId of runIds) {
          // The record on the shared filesystem is the truth: gone means acknowledged (perhaps by another allocator).
          const record = yield* readRecord(options.stateDir, runId)
          if (record.attempt === undefined && record.jobId === undefined && record.exit === undefined) {
            followed.delete(runId)
            out.set(runId, { _tag: "Unknown" })
            continue
          }
          const known = yield* knownJobId(runId)
          if (known !== undefined) {
            jobs.set(runId, known.jobId)
            docs.set(runId, known.docId)
            continue
          }
          const recorded = yield* readExit(runDir(options.stateDir, runId))
          out.set(
            runId,
            recorded === undefined
              ? { _tag: "Unknown" }
              : { _tag: "Exited", exit: exitOf({ jobId: "?", state: undefined, recorded }) ?? recorded }
          )
        }
        const states = yield* jobStates([...jobs.values()])
        for (const [runId, jobId] of jobs) {
          const outcome = yield* resolve(runId, jobId, states.get(jobId))
          // A running job is followed from now on (live view, and its exit is awaited anyway).
          if (outcome._tag === "Active") yield* follow(runId, docs.get(runId) ?? "", jobId)
          out.set(
            runId,
            outcome._tag === "Active"
              ? { _tag: "Running", externalId: jobId }
              : outcome._tag === "Missing"
                ? { _tag: "Lost", message: `Slurm job ${jobId} is unknown to the controller and left no exit status` }
                : outcome
          )
        }
        return out
      }).pipe(Effect.withSpan("SlurmExecutor.status"))

    /** Re-reads the job's state until it is no longer active (or the time is up); true when it ended. */
    const waitEnded = (jobId: string, within: Duration.Duration) =>
      Effect.gen(function* () {
        const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(within)
        for (;;) {
          const state = (yield* jobStates([jobId])).get(jobId)
          if (state === undefined || !isActiveState(state)) return true
          if ((yield* Clock.currentTimeMillis) >= deadline) return false
          yield* Effect.sleep(killPollInterval)
        }
      })

    /** scancel of one job; "already completed" answers are not failures here. */
    const scancel = (args: ReadonlyArray<string>) => noteController(client.run("scancel", args)).pipe(Effect.asVoid)

    const kill: ExecutorShape["kill"] = (runId, grace) =>
      Effect.gen(function* () {
        const known = yield* knownJobId(runId)
        if (known === undefined) return
        const { jobId } = known
        const state = (yield* jobStates([jobId])).get(jobId)
        if (state === undefined || !isActiveState(state)) return
        if (state === "PENDING") {
          yield* scancel([jobId])
        } else {
          // --full: the batch step too (the runner, which ends the pipeline's group with its own grace).
          yield* scancel(["--full", "--signal=TERM", jobId])
          if (yield* waitEnded(jobId, grace)) return
          yield* scancel(["--full", "--signal=KILL", jobId])
          yield* scancel([jobId])
        }
        if (!(yield* waitEnded(jobId, afterKillWait))) {
          yield* Effect.logWarning(`Slurm job ${jobId} still not ended ${Duration.format(afterKillWait)} after scancel`)
        }
      }).pipe(Effect.annotateLogs({ run: runId }), Effect.withSpan("SlurmExecutor.kill"))

    const acknowledge: ExecutorShape["acknowledge"] = (runId) =>
      Effect.zipRight(
        Effect.sync(() => followed.delete(runId)),
        removeRecord(options.stateDir, runId)
      )

    const live: ExecutorShape["live"] = Effect.gen(function* () {
      const runs: Array<LiveRun> = []
      for (const f of followed.values()) {
        if (yield* Deferred.isDone(f.done)) continue
        runs.push({ runId: f.runId, docId: f.docId, externalId: f.jobId, externalState: f.state ?? "PENDING", startedAt: f.startedAt })
      }
      return runs
    })

    return {
      start,
      awaitExit,
      kill,
      status,
      acknowledge,
      live,
      controller: Effect.sync(() => health)
    }
  })

export const SlurmExecutorLive = (options: SlurmExecutorOptions) => Layer.scoped(Executor, makeSlurmExecutor(options))
