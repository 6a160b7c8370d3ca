/**
 * A child process in its own process group, as a scoped resource.
 *
 * Both executors (plain and bubblewrap) start their child through here. The
 * child is spawned detached, so it leads a new process group (and session);
 * every descendant that does not deliberately leave the group is reached by a
 * signal to `-pgid`. Closing the scope ends the group:
 *
 *   members alive? ── no ──▶ done
 *        │ yes
 *   SIGTERM the group, wait up to `killGrace` for every member to go
 *        │ still alive
 *   SIGKILL the group, wait (bounded) until it is gone
 *
 * "Alive" means present in /proc and not a zombie: a zombie has already
 * released everything it held, and on hosts whose pid 1 does not reap
 * orphans (some container inits) zombies never disappear.
 *
 * The group is ended even when the leader has already exited normally, so a
 * background grandchild left running by a pipeline does not outlive its run.
 *
 * With `treeDiesWithLeader` (bubblewrap with --unshare-pid --die-with-parent)
 * the leader's death takes the whole pid namespace with it, so waiting means
 * waiting for the leader, and nothing is scanned once it has exited. SIGTERM
 * then goes to every member but the leader: bwrap itself would die of it at
 * once and the kernel would SIGKILL the pipeline without its grace.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { promises as fs, readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { Clock, Deferred, Duration, Effect, Exit, type Scope } from "effect"
import { SpawnError, type PipelineExit, type RunningPipeline } from "../ports/process.ts"

export interface GroupSpawn {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string | undefined>>
  /** stdout and stderr are appended here; parent directories are created. */
  readonly logFile: string
  readonly killGrace: Duration.Duration
  /** Working directory of the child; the daemon's when absent. */
  readonly cwd?: string
  /** The kernel ends every descendant when the leader dies (a pid namespace whose init dies with it). */
  readonly treeDiesWithLeader?: boolean
}

export interface SpawnedGroup extends RunningPipeline {
  /** The group id (the leader's pid). */
  readonly pgid: number
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** How long after SIGKILL we keep checking that the group is gone before giving up (and logging). */
const afterKillWait = Duration.seconds(5)

const processState = (pid: string): { readonly state: string; readonly pgrp: number } | undefined => {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  } catch {
    return undefined
  }
  // Fields after the command name (which may contain spaces and parens): state ppid pgrp ...
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return { state: rest[0] ?? "", pgrp: Number(rest[2]) }
}

const isLive = (state: string) => state !== "" && state !== "Z" && state !== "X"

/**
 * Pids of the live (non-zombie) processes whose process group is `pgid`.
 * Reads /proc (Linux only, like bubblewrap) with synchronous reads: a few
 * microseconds each, where a thread-pool round trip per file cost far more.
 */
export const groupMembers = (pgid: number): Effect.Effect<ReadonlyArray<number>> =>
  Effect.sync(() => {
    // Fast path: no process at all (not even a zombie) is left in the group.
    try {
      process.kill(-pgid, 0)
    } catch {
      return []
    }
    const members: Array<number> = []
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue
      const p = processState(name)
      if (p !== undefined && p.pgrp === pgid && isLive(p.state)) members.push(Number(name))
    }
    return members
  })

/** True while the process is present and not a zombie. */
export const processAlive = (pid: number): Effect.Effect<boolean> =>
  Effect.sync(() => isLive(processState(String(pid))?.state ?? ""))

const signalProcess = (pid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(pid, signal)
  } catch {
    // ESRCH: already gone.
  }
}

const signalGroup = (pgid: number, signal: NodeJS.Signals): Effect.Effect<void> =>
  Effect.sync(() => {
    try {
      process.kill(-pgid, signal)
    } catch {
      // ESRCH: the group is already gone.
    }
  })

/**
 * Polls `done` until it holds or `within` has passed; true when it held. A
 * deadline loop rather than `Effect.timeout`: this runs inside scope
 * finalizers, which are uninterruptible, so a timeout could not stop it.
 * Polls quickly at first (most groups go within milliseconds), then every 25 ms.
 */
const pollUntil = (done: Effect.Effect<boolean>, within: Duration.Duration): Effect.Effect<boolean> =>
  Effect.flatMap(Clock.currentTimeMillis, (start) => {
    const deadline = start + Duration.toMillis(within)
    const loop = (delayMs: number): Effect.Effect<boolean> =>
      Effect.flatMap(done, (ok) =>
        ok
          ? Effect.succeed(true)
          : Effect.flatMap(Clock.currentTimeMillis, (now) =>
              now >= deadline
                ? Effect.succeed(false)
                : Effect.zipRight(Effect.sleep(Duration.millis(delayMs)), Effect.suspend(() => loop(Math.min(25, delayMs * 2))))
            )
      )
    return loop(1)
  })

const groupGone = (pgid: number) => Effect.map(groupMembers(pgid), (members) => members.length === 0)

export type GroupEnd = "gone" | "terminated" | "killed" | "stuck"

/**
 * SIGTERM, grace, SIGKILL, for a whole process group. Returns how it ended:
 * `gone` (nothing was left), `terminated` (SIGTERM sufficed), `killed`
 * (needed SIGKILL), `stuck` (still present after SIGKILL; logged).
 * `ended` tells when the tree is over: every member gone, or (for a tree that
 * dies with its leader) the leader's exit.
 */
export const endGroup = (
  pgid: number,
  killGrace: Duration.Duration,
  options: { readonly ended?: Effect.Effect<boolean>; readonly spareLeaderFromTerm?: boolean } = {}
): Effect.Effect<GroupEnd> =>
  Effect.gen(function* () {
    const ended = options.ended ?? groupGone(pgid)
    if (yield* ended) return "gone" as const
    if (options.spareLeaderFromTerm === true) {
      // The leader would die of SIGTERM at once and take the tree with it, leaving the
      // pipeline no grace: SIGTERM the others, and let the leader exit when they have.
      const members = yield* groupMembers(pgid)
      for (const pid of members) if (pid !== pgid) signalProcess(pid, "SIGTERM")
    } else {
      yield* signalGroup(pgid, "SIGTERM")
    }
    if (yield* pollUntil(ended, killGrace)) return "terminated" as const
    yield* signalGroup(pgid, "SIGKILL")
    if (yield* pollUntil(ended, afterKillWait)) return "killed" as const
    const left = yield* groupMembers(pgid)
    yield* Effect.logError("process group survived SIGKILL").pipe(Effect.annotateLogs({ pgid, left: left.join(",") }))
    return "stuck" as const
  })

const openLog = (logFile: string): Effect.Effect<fs.FileHandle, SpawnError> =>
  Effect.tryPromise({
    try: async () => {
      await fs.mkdir(path.dirname(logFile), { recursive: true })
      return fs.open(logFile, "a")
    },
    catch: (error) => new SpawnError({ message: `cannot open log file ${logFile}: ${errorText(error)}` })
  })

const launch = (
  spec: GroupSpawn,
  exited: Deferred.Deferred<PipelineExit>
): Effect.Effect<ChildProcess, SpawnError> =>
  Effect.acquireUseRelease(
    openLog(spec.logFile),
    (log) =>
      Effect.async<ChildProcess, SpawnError>((resume) => {
        let settled = false
        const settle = (effect: Effect.Effect<ChildProcess, SpawnError>) => {
          if (settled) return
          settled = true
          resume(effect)
        }
        let child: ChildProcess
        try {
          child = spawn(spec.command, [...spec.args], {
            detached: true,
            stdio: ["ignore", log.fd, log.fd],
            env: spec.env,
            ...(spec.cwd === undefined ? {} : { cwd: spec.cwd })
          })
        } catch (error) {
          settle(Effect.fail(new SpawnError({ message: `cannot spawn ${spec.command}: ${errorText(error)}` })))
          return
        }
        child.once("spawn", () => settle(Effect.succeed(child)))
        // Persistent: an 'error' without a listener would crash the daemon.
        child.on("error", (error) =>
          settle(Effect.fail(new SpawnError({ message: `cannot spawn ${spec.command}: ${errorText(error)}` })))
        )
        child.once("exit", (code, signal) => {
          Deferred.unsafeDone(exited, Exit.succeed({ code, signal }))
        })
      }),
    // The child holds its own copy of the descriptor; ours is not needed once it runs.
    (log) => Effect.promise(() => log.close().catch(() => undefined))
  )

/**
 * Spawns `command args` detached with stdout+stderr appended to `logFile`.
 * The returned pipeline's `exit` completes when the leader exits; closing the
 * scope ends the whole group (see the header).
 */
export const spawnGroup = (spec: GroupSpawn): Effect.Effect<SpawnedGroup, SpawnError, Scope.Scope> =>
  Effect.gen(function* () {
    const exited = yield* Deferred.make<PipelineExit>()
    const child = yield* Effect.acquireRelease(launch(spec, exited), (child) => {
      const pgid = child.pid
      if (pgid === undefined) return Effect.void
      const tree = spec.treeDiesWithLeader === true
      return endGroup(pgid, spec.killGrace, {
        ended: tree ? Deferred.isDone(exited) : groupGone(pgid),
        spareLeaderFromTerm: tree
      }).pipe(
        Effect.tap((how) =>
          how === "gone" ? Effect.void : Effect.log(`process group ended (${how})`).pipe(Effect.annotateLogs({ pgid }))
        ),
        // The leader is ours: wait for node to reap it so `exit` is settled (bounded, and
        // interruptible so the timeout can stop it inside this uninterruptible finalizer).
        Effect.zipRight(Effect.interruptible(Deferred.await(exited)).pipe(Effect.timeout(afterKillWait), Effect.ignore))
      )
    })
    const pgid = child.pid
    if (pgid === undefined) {
      return yield* Effect.fail(new SpawnError({ message: `cannot spawn ${spec.command}: no pid` }))
    }
    return { pid: pgid, pgid, exit: Deferred.await(exited) }
  })
