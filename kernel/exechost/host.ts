/**
 * The execution host's state: every run it follows, from Start until the
 * kernel acknowledges the outcome.
 *
 *   Start ─▶ running ─(exit file | monitor gone)─▶ finishing ─▶ done ─Acknowledge─▶ forgotten
 *
 * Ordering rules:
 * - the record (spec.json) is written before the monitor is spawned, so any
 *   monitor a restarted host finds has a record;
 * - an outcome is reported only after the monitor has made the exit durable
 *   (its exit slot synced, exitSlots.ts; or, without a slot, its `exit` file);
 *   a slot is taken at Start and freed at Acknowledge; reported again to every new connection until acknowledged. An Exited
 *   outcome is kept in memory only: a restarted host computes it again from
 *   `exit`, since Launcher.finish is idempotent and keeps its own record (the
 *   sandbox's outcome.json and commit journal); that saves a file write and
 *   rename on every run's exit path. A Lost one is written to `final.json`
 *   (atomically, not fsynced) before it is reported: finishing it again would
 *   signal a process group whose id may be someone else's by then;
 * - finishing is idempotent (Launcher.finish may run twice after a crash);
 * - "monitor gone and no exit file" is the only way a run is Lost
 *   (podman's rule); the monitor writes its exit file before it exits.
 * - the monitor's record (`monitor`, its pid and start time) is written by the
 *   fork server before it answers (spawnMonitor.ts), so before Start is answered;
 * - Acknowledge renames the record dir into `acked/` (one rename: neither a
 *   restarted host nor the kernel's listing sees an acknowledged run again) and
 *   answers; the removal itself is batched off the event loop (the fork
 *   server's remover), and a start-up sweeps what a crash left in `acked/`.
 * A monitor's end is seen by the fork server's exit report (monitors this
 * host started), or, for monitors adopted from an earlier host, an fs.watch on
 * the run dir; a once-a-second sweep covers both.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Clock, Context, Deferred, Duration, Effect, Layer, Option, Runtime, Schedule, type Scope } from "effect"
import {
  StartRefused,
  type HostEvent,
  type HostRequest,
  type Start
} from "../../schemas/exechost.ts"
import type { Connection } from "../ipc/server.ts"
import type { Handlers } from "../ipc/protocol.ts"
import type { LiveRun, PipelineExit, RunStatus, SpawnError } from "../ports/executor.ts"
import { endGroup } from "../process/group.ts"
import { ProcessSampler, processSamplerLayer } from "../processStats.ts"
import type { Launcher, RawExit } from "../process/launch.ts"
import { exitSlotsFile, openExitSlots } from "./exitSlots.ts"
import { findMonitors, isAlive } from "./procs.ts"
import {
  hasRawExit,
  listRuns,
  readExit,
  readFinal,
  readMonitor,
  readRecord,
  removeRun,
  runDir,
  runsRoot,
  ackedRoot,
  writeFinal,
  writeRecord,
  type FinalRecord,
  type RunRecord
} from "./records.ts"
import { makeMonitorSpawner } from "./spawnMonitor.ts"

export interface HostOptions {
  readonly dataDir: string
  readonly monitorPath: string
  /**
   * The launcher for plain (false) or sandboxed (true) runs; fails when that kind cannot run here.
   * `discard` removes a directory nobody reads any more beside the host (the fork server's remover).
   */
  readonly launcherFor: (sandbox: boolean, discard: (dir: string) => void) => Effect.Effect<Launcher, SpawnError>
  /** The monitor's grace between SIGTERM and SIGKILL at a time limit. Default 3 s. */
  readonly graceMs?: number
  /** How often monitors are checked for liveness besides the events. Default 1 s. */
  readonly sweepEvery?: Duration.DurationInput
}

interface Tracked {
  readonly runId: number
  readonly dir: string
  readonly record: RunRecord
  monitor: { readonly pid: number; readonly startTime: string } | undefined
  pgid: number | undefined
  phase: "running" | "finishing" | "done"
  final: FinalRecord | undefined
  readonly settled: Deferred.Deferred<void>
  watcher: fs.FSWatcher | undefined
}

export interface Host {
  readonly handlers: Handlers<HostRequest, never>
  readonly onConnect: (connection: Connection<HostEvent>) => Effect.Effect<void>
  /** Where events go (the server's publish), set once the socket is served. */
  readonly setPublish: (publish: (event: HostEvent) => void) => void
  readonly runs: () => ReadonlyArray<{ readonly runId: number; readonly phase: string }>
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error))

const eventOf = (runId: number, final: FinalRecord): HostEvent =>
  final._tag === "Exited" ? { _tag: "Exited", runId, exit: final.exit } : { _tag: "Lost", runId, message: final.message }

/** Builds the host, adopting what an earlier host left (live monitors, unreported exits). */
export const makeHost = (options: HostOptions): Effect.Effect<Host, never, Scope.Scope> =>
  Effect.gen(function* () {
    const root = runsRoot(path.resolve(options.dataDir))
    const acked = ackedRoot(root)
    fs.mkdirSync(root, { recursive: true })
    fs.mkdirSync(acked, { recursive: true })
    const graceMs = options.graceMs ?? 3000
    const runs = new Map<number, Tracked>()
    const starting = new Map<number, Deferred.Deferred<RunStatus, StartRefused>>()
    let publish: (event: HostEvent) => void = () => undefined
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const slots = openExitSlots(exitSlotsFile(root))
    const spawner = yield* makeMonitorSpawner(options.monitorPath)
    const launcherFor = (sandbox: boolean) => options.launcherFor(sandbox, spawner.discard)
    let ackSequence = 0
    // The host's own gauges (Stats), sampled here: /metrics shows the host beside the kernel and dashboard.
    const sampler = Context.get(yield* Layer.build(processSamplerLayer("exechost")), ProcessSampler)

    const statusOf = (t: Tracked): RunStatus => {
      if (t.final === undefined) return { _tag: "Running", pid: t.pgid ?? t.monitor?.pid }
      return t.final._tag === "Exited" ? { _tag: "Exited", exit: t.final.exit } : { _tag: "Lost", message: t.final.message }
    }

    const finishWith = (t: Tracked, raw: RawExit | undefined): Effect.Effect<FinalRecord> =>
      Effect.gen(function* () {
        const launcher = yield* Effect.either(launcherFor(t.record.sandbox))
        if (raw === undefined) {
          // Without its monitor nobody would record this pipeline's end, and the kernel will run the
          // attempt again: end what is left of it first.
          const pgid = t.pgid ?? readMonitor(t.dir)?.pgid
          if (pgid !== undefined) yield* endGroup(pgid, Duration.millis(graceMs), { spareLeaderFromTerm: t.record.sandbox })
          // Nothing to commit; finishing as killed discards whatever the run staged.
          if (launcher._tag === "Right") yield* launcher.right.finish(t.record.spec, { code: null, signal: "SIGKILL", timedOut: false })
          const who = t.monitor === undefined ? "its monitor" : `its monitor (pid ${t.monitor.pid})`
          return { _tag: "Lost", message: `the pipeline's monitor is gone with no recorded exit: ${who} was killed or the machine restarted` } as const
        }
        if (launcher._tag === "Left") {
          return { _tag: "Exited", exit: { code: raw.code, signal: raw.signal, errorMessage: `cannot finish the run: ${launcher.left.message}` } } as const
        }
        const exit: PipelineExit = yield* launcher.right.finish(t.record.spec, raw)
        const withLimit: PipelineExit =
          raw.timedOut && exit.errorMessage === undefined ? { ...exit, errorMessage: "time limit exceeded: the run was killed" } : exit
        return { _tag: "Exited", exit: withLimit } as const
      })

    /** running → finishing → done; a second call while finishing or done does nothing. */
    const settle = (t: Tracked): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (t.phase !== "running") return Effect.void
        // No exit file yet and the monitor still there: it is writing it (a kill, a time limit); not Lost.
        if (!hasRawExit(t.dir) && !monitorGone(t)) return Effect.void
        t.phase = "finishing"
        t.watcher?.close()
        t.watcher = undefined
        return Effect.gen(function* () {
          // Read after the monitor is gone or its file exists: a missing file now means none will come.
          const final = yield* finishWith(t, readExit(t.dir, t.record, slots.file))
          if (final._tag === "Lost") {
            const written = yield* Effect.either(writeFinal(t.dir, final))
            if (written._tag === "Left") {
              // Not reported until it is on disk; the sweep tries again.
              yield* Effect.logError(`cannot record the outcome of run ${t.runId}: ${written.left.message}`)
              t.phase = "running"
              return
            }
          }
          t.final = final
          t.phase = "done"
          yield* Deferred.succeed(t.settled, undefined)
          yield* Effect.log(`run ${t.runId} ${final._tag === "Exited" ? `exited (${final.exit.code ?? final.exit.signal})` : "lost"}`)
          publish(eventOf(t.runId, final))
        }).pipe(
          Effect.catchAllDefect((defect) =>
            Effect.sync(() => {
              t.phase = "running"
            }).pipe(Effect.zipRight(Effect.logError(`finishing run ${t.runId} failed: ${errorText(defect)}`)))
          )
        )
      })

    const settleSoon = (t: Tracked) => {
      if (t.phase === "running") runFork(settle(t))
    }

    const monitorGone = (t: Tracked) => t.monitor === undefined || !isAlive(t.monitor.pid, t.monitor.startTime)

    const watch = (t: Tracked) => {
      try {
        t.watcher = fs.watch(t.dir, (_kind, name) => {
          if (name === "exit") settleSoon(t)
        })
        t.watcher.on("error", () => undefined)
      } catch {
        // The sweep still sees the exit.
      }
      if (hasRawExit(t.dir)) settleSoon(t)
    }

    const track = (runId: number, dir: string, record: RunRecord, monitor: Tracked["monitor"]): Effect.Effect<Tracked> =>
      Effect.map(Deferred.make<void>(), (settled) => {
        const t: Tracked = { runId, dir, record, monitor, pgid: undefined, phase: "running", final: undefined, settled, watcher: undefined }
        runs.set(runId, t)
        return t
      })

    // --- adoption of what an earlier host left ---
    // Acknowledged records whose removal a crash (or the host's exit) cut short.
    for (const name of fs.readdirSync(acked)) spawner.discard(path.join(acked, name))
    const found = findMonitors(options.monitorPath, root)
    const toSettle: Array<Tracked> = []
    for (const runId of listRuns(root)) {
      const dir = runDir(root, runId)
      const record = readRecord(dir)
      const live = found.get(dir)
      if (record === undefined) {
        if (live === undefined) yield* removeRun(dir)
        continue
      }
      const final = readFinal(dir)
      if (record.exitSlot !== undefined) slots.hold(record.exitSlot.index)
      const t = yield* track(runId, dir, record, live ?? readMonitor(dir))
      if (final !== undefined) {
        t.final = final
        t.phase = "done"
        yield* Deferred.succeed(t.settled, undefined)
      } else if (live !== undefined) {
        t.pgid = readMonitor(dir)?.pgid
        watch(t)
      } else if (hasRawExit(dir) || t.monitor !== undefined) {
        toSettle.push(t)
      } else {
        // Recorded but no monitor ever ran: the kernel's Start never succeeded.
        runs.delete(runId)
        if (record.exitSlot !== undefined) slots.release(record.exitSlot.index)
        yield* removeRun(dir)
      }
    }
    yield* Effect.forEach(toSettle, settle, { discard: true })
    const liveIds = new Set([...runs.values()].filter((t) => t.phase === "running").map((t) => t.runId))
    for (const sandbox of [false, true]) {
      const launcher = yield* Effect.either(launcherFor(sandbox))
      if (launcher._tag === "Right") {
        const removed = yield* launcher.right.recover(liveIds)
        if (removed > 0) yield* Effect.log(`removed ${removed} stale scratch dir(s)`)
      }
    }
    if (runs.size > 0) yield* Effect.log(`adopted ${liveIds.size} live run(s), ${runs.size - liveIds.size} finished and unacknowledged`)

    yield* Effect.forkScoped(
      Effect.repeat(
        Effect.sync(() => {
          for (const t of runs.values()) if (t.phase === "running" && (hasRawExit(t.dir) || monitorGone(t))) settleSoon(t)
        }),
        Schedule.spaced(Duration.decode(options.sweepEvery ?? Duration.seconds(1)))
      )
    )
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const t of runs.values()) t.watcher?.close()
      })
    )

    // --- requests ---
    const launchRun = (request: Start): Effect.Effect<RunStatus, StartRefused> =>
      Effect.gen(function* () {
        const { spec, sandbox } = request
        const refuse = (message: string) => new StartRefused({ message })
        const launcher = yield* Effect.mapError(launcherFor(sandbox), (e) => refuse(e.message))
        const launch = yield* Effect.mapError(launcher.prepare(spec), (e) => refuse(e.message))
        const dir = runDir(root, spec.runId)
        const startedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
        const exitSlot = { index: slots.take(), token: `${spec.runId}@${startedAt}` }
        const record: RunRecord = { spec, sandbox, startedAt, graceMs, exitSlot }
        const freeSlot = Effect.sync(() => slots.release(exitSlot.index))
        yield* writeRecord(dir, record).pipe(
          Effect.tapError(() => freeSlot),
          Effect.mapError((e) => refuse(`cannot write the run record: ${e.message}`))
        )
        const monitor = yield* Effect.try(() => fs.mkdirSync(path.dirname(spec.logFile), { recursive: true })).pipe(
          Effect.zipRight(
            spawner.spawn({
              monitorPath: options.monitorPath,
              runDir: dir,
              logFile: spec.logFile,
              graceMs,
              launch,
              exitSlot: { ...exitSlot, file: slots.file }
            })
          ),
          Effect.tapError(() => Effect.zipRight(removeRun(dir), freeSlot)),
          Effect.mapError((e) => refuse(`cannot start the pipeline's monitor: ${errorText(e)}`))
        )
        const t = yield* track(spec.runId, dir, record, monitor)
        // Its exit is reported by the spawner (after the exit file is fsynced): no watch needed.
        spawner.onExit(monitor.pid, () => settleSoon(t))
        publish({ _tag: "Started", runId: spec.runId, pid: monitor.pid })
        return { _tag: "Running", pid: monitor.pid } as const
      })

    const start = (request: Start): Effect.Effect<RunStatus, StartRefused> =>
      Effect.gen(function* () {
        const runId = request.spec.runId
        const known = runs.get(runId)
        if (known !== undefined) return statusOf(known)
        // A Start repeated while the first is under way (a client timeout) joins it.
        const pending = starting.get(runId)
        if (pending !== undefined) return yield* Deferred.await(pending)
        const result = yield* Deferred.make<RunStatus, StartRefused>()
        starting.set(runId, result)
        const exit = yield* Effect.exit(launchRun(request))
        starting.delete(runId)
        yield* Deferred.done(result, exit)
        return yield* exit
      }).pipe(Effect.uninterruptible)

    const pgidOf = (t: Tracked): Effect.Effect<Option.Option<number>> =>
      Effect.gen(function* () {
        for (let i = 0; i < 200 && t.pgid === undefined; i++) {
          t.pgid = readMonitor(t.dir)?.pgid
          if (t.pgid !== undefined || monitorGone(t)) break
          yield* Effect.sleep(Duration.millis(10))
        }
        return Option.fromNullable(t.pgid)
      })

    const kill = (runId: number, grace: number): Effect.Effect<void> =>
      Effect.gen(function* () {
        const t = runs.get(runId)
        if (t === undefined || t.phase === "done") return
        if (t.phase === "running") {
          const pgid = yield* pgidOf(t)
          if (Option.isSome(pgid)) {
            yield* endGroup(pgid.value, Duration.millis(grace), { spareLeaderFromTerm: t.record.sandbox })
          } else if (t.monitor !== undefined && !monitorGone(t)) {
            // No group known: the monitor ends the group itself on SIGTERM.
            yield* Effect.try(() => process.kill(t.monitor?.pid ?? 0, "SIGTERM")).pipe(Effect.ignore)
          }
          settleSoon(t)
        }
        yield* Deferred.await(t.settled).pipe(Effect.timeout(Duration.millis(grace + 10_000)), Effect.ignore)
      })

    const handlers: Handlers<HostRequest, never> = {
      Start: start,
      Kill: (r) => kill(r.runId, r.graceMs),
      Status: (r) =>
        Effect.sync(() =>
          r.runIds.map((id): readonly [number, RunStatus] => {
            const t = runs.get(id)
            return [id, t === undefined ? { _tag: "Unknown" } : statusOf(t)]
          })
        ),
      Acknowledge: (r) =>
        Effect.gen(function* () {
          const t = runs.get(r.runId)
          if (t === undefined) return
          if (t.phase !== "done") return yield* Effect.logWarning(`acknowledge of run ${r.runId} ignored: it has not ended`)
          runs.delete(r.runId)
          // The launcher's leftovers (a sandbox run dir with its outcome) go first: once the
          // record is gone, nothing would ever ask for this run again.
          const launcher = yield* Effect.either(launcherFor(t.record.sandbox))
          if (launcher._tag === "Right") yield* launcher.right.release(r.runId)
          // One rename now; the removal beside the host.
          const away = path.join(acked, `${r.runId}-${process.pid}-${++ackSequence}`)
          const moved = yield* Effect.try(() => fs.renameSync(t.dir, away)).pipe(Effect.isSuccess)
          if (moved) spawner.discard(away)
          else yield* removeRun(t.dir)
          // Its monitor has recorded the exit and ended (or is gone): it never writes the slot again.
          if (t.record.exitSlot !== undefined) slots.release(t.record.exitSlot.index)
        }),
      Live: () =>
        Effect.sync(() =>
          [...runs.values()]
            .filter((t) => t.phase !== "done")
            .map(
              (t): LiveRun => ({
                runId: t.runId,
                docId: t.record.spec.docId,
                pid: t.pgid ?? t.monitor?.pid,
                startedAt: t.record.startedAt
              })
            )
        ),
      StopAll: (r) =>
        Effect.gen(function* () {
          const live = [...runs.values()].filter((t) => t.phase !== "done")
          yield* Effect.logWarning(`stopping all ${live.length} pipeline(s)`)
          yield* Effect.forEach(live, (t) => kill(t.runId, r.graceMs), { concurrency: "unbounded", discard: true })
          return live.length
        }),
      Stats: () => sampler.sample
    }

    return {
      handlers,
      onConnect: (connection) =>
        Effect.sync(() => {
          for (const t of runs.values()) if (t.final !== undefined) connection.send(eventOf(t.runId, t.final))
        }),
      setPublish: (p) => {
        publish = p
      },
      runs: () => [...runs.values()].map((t) => ({ runId: t.runId, phase: t.phase }))
    }
  })

