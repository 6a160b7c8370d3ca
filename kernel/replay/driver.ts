/**
 * The replay driver (shared/contracts/replay.md). It runs the real allocator
 * layer against the replay world on the test clock, applies each step at its
 * instant, settles in between, and records the trace and snapshots.
 *
 * The simulated execution host lives in the world, beside Firestore, so its
 * pipelines outlive the allocator:
 *
 *   crash              the allocator's scope closes with its events muted, the
 *                      host loses every running pipeline (no exit recorded),
 *                      and the allocator is built again at once on the same
 *                      database: start-up recovery runs exactly as in production.
 *   allocator_restart  only the allocator goes; pipelines run on and their
 *                      exits are recorded. While it is down (`for`), commands
 *                      are refused as an unreachable dashboard would report,
 *                      Firestore changes wait for the listener of the next
 *                      start, and the clock moves with nobody settling but the host.
 */
import { Context, Duration, Effect, Exit, Layer, Queue, Scheduler, Scope } from "effect"
import { accessSync, constants, mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { OperatorCommand } from "../../schemas/commands.ts"
import type { AllocatorEvent } from "../../schemas/events.ts"
import { type Fixture, type FixtureCommand, type FixtureOutcome, type FixtureStep, offsetMillis } from "../../schemas/fixture.ts"
import { CommandBus } from "../commandBus.ts"
import { EventBus } from "../events.ts"
import { MemoryFirestore } from "../firestore/memory.ts"
import { databaseFile } from "../paths.ts"
import { Activity } from "../activity.ts"
import { Executor } from "../ports/executor.ts"
import { allocatorLayer, storeLayer } from "../runtime.ts"
import { databaseLayer } from "../store/database.ts"
import { TunableStore } from "../store/tunables.ts"
import { advanceTo, settle } from "./settle.ts"
import { isoFromMillis } from "../time.ts"
import { VirtualClock } from "./virtualClock.ts"
import { type SimOutcome, SimHost } from "./simHost.ts"
import { type ReplaySnapshot, takeSnapshot, type TraceEntry, toTraceEntry } from "./snapshot.ts"
import { replayConfig, throwawayReplayWorldLayer } from "./world.ts"

export interface ReplayResult {
  readonly name: string
  readonly trace: ReadonlyArray<TraceEntry>
  readonly snapshots: Readonly<Record<string, ReplaySnapshot>>
}

const toSimOutcome = (o: FixtureOutcome): SimOutcome =>
  "hang" in o
    ? { _tag: "Hang" }
    : { _tag: "Exit", code: o.exit, after: Duration.millis(offsetMillis(o.after)), ...(o.error !== undefined ? { errorMessage: o.error } : {}) }

/** What a dashboard that cannot reach the allocator records for a command. */
export const UNREACHABLE = "the allocator is not reachable (it is restarting)"

const toCommand = (c: FixtureCommand): OperatorCommand => {
  switch (c.name) {
    case "kill":
    case "skip":
      return { _tag: c.name, ...(c.run !== undefined ? { run: c.run } : {}), ...(c.doc !== undefined ? { doc: c.doc } : {}) }
    case "set_tunable":
      return { _tag: "set_tunable", key: c.key, value: c.value }
    default:
      return { _tag: c.name, doc: c.doc }
  }
}

const REPLAY_USER = "replay"

const runFixture = (fixture: Fixture, dir: string, clock: VirtualClock) =>
  Effect.gen(function* () {
    const config = replayConfig(dir, fixture.timezone)
    const world = yield* Layer.build(throwawayReplayWorldLayer(config))
    const inWorld = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, world)

    const events = yield* inWorld(Effect.flatMap(EventBus, (bus) => bus.subscribe))
    const trace: Array<TraceEntry> = []
    const emails: Array<AllocatorEvent> = []
    const drainEvents = Effect.map(Queue.takeAll(events), (chunk) => {
      for (const event of chunk) {
        trace.push(toTraceEntry(event))
        if (event._tag === "email") emails.push(event)
      }
    })

    // Tunables are in place before any actor starts, as they would be in a stored database. Only the
    // tunable store is built for it (the whole store layer's mailboxes and services cost ~40 ms for nothing).
    yield* Effect.scoped(
      Effect.gen(function* () {
        const stores = yield* Layer.build(TunableStore.Default.pipe(Layer.provideMerge(databaseLayer(databaseFile(config.dataDir)))))
        const tunables = Context.get(stores, TunableStore)
        for (const [key, value] of Object.entries(fixture.tunables)) yield* tunables.set(key, value, REPLAY_USER)
      }).pipe(Effect.provide(world))
    ).pipe(Effect.orDie)

    const allocator = allocatorLayer(databaseFile(config.dataDir), Layer.effect(Executor, Executor))
    const start = Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(allocator, scope).pipe(Effect.provide(world))
      return { scope, context }
    }).pipe(Effect.orDie)
    type Running = Effect.Effect.Success<typeof start>
    /** undefined while the allocator is down. */
    let current: Running | undefined = yield* start
    /** When a down allocator comes back (absolute millis). */
    let backAt: number | undefined
    // Nobody posts to mailboxes while the allocator is down: settling is a few quiet turns for the host.
    const idle = yield* Layer.build(Activity.Default)
    const inAllocator = <A, E, R>(running: Running, effect: Effect.Effect<A, E, R>) =>
      Effect.provide(Effect.provide(effect, running.context), world)
    /** Settling needs only the activity count: the allocator's, or an idle one while it is down. */
    const quietly = <A, E>(effect: Effect.Effect<A, E, Activity>) =>
      current === undefined ? Effect.provide(effect, idle) : Effect.provide(effect, current.context)
    /** Snapshots read the database even while the allocator is down. */
    const snapshot = Effect.suspend(() =>
      current === undefined
        ? Effect.scoped(
            Effect.flatMap(Layer.build(storeLayer(databaseFile(config.dataDir))).pipe(Effect.provide(world)), (stores) =>
              Effect.provide(Effect.provide(takeSnapshot(emails), stores), world)
            )
          ).pipe(Effect.orDie)
        : inAllocator(current, takeSnapshot(emails))
    )

    yield* quietly(settle)
    yield* drainEvents

    const snapshots: Record<string, ReplaySnapshot> = {}
    const clear = (after: string, undo: Effect.Effect<void>) =>
      Effect.forkDaemon(Effect.sleep(Duration.millis(offsetMillis(after))).pipe(Effect.zipRight(undo)))

    /** The allocator process dies abruptly: its scope closes and nothing it does meanwhile is observed. */
    const stopAllocator = Effect.gen(function* () {
      if (current === undefined) return
      yield* drainEvents
      yield* Scope.close(current.scope, Exit.void)
      yield* Queue.takeAll(events)
      current = undefined
    })
    const startAllocator = Effect.gen(function* () {
      backAt = undefined
      current = yield* start
    })
    /** Moves the clock to `target`, bringing a down allocator back at its instant on the way. */
    const advance = (target: number) =>
      Effect.gen(function* () {
        if (backAt !== undefined && backAt <= target) {
          yield* quietly(advanceTo(clock, backAt))
          yield* drainEvents
          yield* startAllocator
          yield* quietly(settle)
          yield* drainEvents
        }
        yield* quietly(advanceTo(clock, target))
        yield* drainEvents
      })

    const apply = (step: FixtureStep): Effect.Effect<void> =>
      Effect.gen(function* () {
        const fs = yield* inWorld(MemoryFirestore)
        switch (step.kind) {
          case "doc":
            return yield* fs.setReport(step.value.id, step.value.data)
          case "patch":
            return yield* fs.patchReport(step.value.id, step.value.data)
          case "delete":
            return yield* fs.deleteReport(step.value)
          case "patient":
            return yield* fs.setPatient(step.value.id, step.value.data)
          case "replay":
            return yield* fs.replayAdded
          case "outcomes": {
            const host = yield* inWorld(SimHost)
            return yield* host.append(step.value.doc, step.value.runs.map(toSimOutcome))
          }
          case "command": {
            if (current === undefined) {
              trace.push({ at: isoFromMillis(clock.unsafeCurrentTimeMillis()), kind: "command", name: step.value.name, ok: false, reason: UNREACHABLE })
              return
            }
            const command = toCommand(step.value)
            yield* inAllocator(current, Effect.flatMap(CommandBus, (bus) => bus.execute(REPLAY_USER, command))).pipe(Effect.forkDaemon)
            return
          }
          case "crash": {
            yield* stopAllocator
            yield* (yield* inWorld(SimHost)).crash
            yield* startAllocator
            return
          }
          case "allocator_restart": {
            yield* stopAllocator
            const away = step.value === true ? 0 : offsetMillis(step.value.for)
            if (away === 0) return yield* startAllocator
            backAt = fixture.start + step.at + away
            return
          }
          case "firestore_fail_writes":
            yield* fs.setWriteFailure(step.value.doc, true)
            yield* clear(step.value.for, fs.setWriteFailure(step.value.doc, false))
            return
          case "firestore_outage":
            yield* fs.setOutage(true)
            yield* clear(step.value.for, fs.setOutage(false))
            return
          case "executor_outage": {
            const host = yield* inWorld(SimHost)
            yield* host.setUnavailable(true)
            yield* clear(step.value.for, host.setUnavailable(false))
            return
          }
          case "snapshot":
            yield* quietly(settle)
            yield* drainEvents
            snapshots[step.value] = yield* snapshot
            return
        }
      })

    for (const step of fixture.steps) {
      yield* advance(fixture.start + step.at)
      yield* apply(step)
      yield* quietly(settle)
      yield* drainEvents
    }
    yield* advance(fixture.start + fixture.until)
    snapshots.final = yield* snapshot
    if (current !== undefined) yield* Scope.close(current.scope, Exit.void)
    const result: ReplayResult = { name: fixture.name, trace, snapshots }
    return result
  })

/** Memory-backed and ours to write, on Linux. */
const SHM = "/dev/shm"
const writableDir = (path: string) => {
  try {
    accessSync(path, constants.W_OK)
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/**
 * Where a replay keeps its database and files: $TMPDIR when the caller set
 * one; otherwise /dev/shm where there is one, else the system's temporary
 * directory. A month of 1,000 documents is ~20,000 SQLite statements; on
 * tmpfs they touch no disk. The store and its statements are the production
 * ones; the file runs as a ThrowawayDatabase (world.ts): one exclusive
 * connection, journal in memory, no syncs.
 */
const replayTempRoot = () => (process.env.TMPDIR ? tmpdir() : writableDir(SHM) ? SHM : tmpdir())

/** Replays a decoded fixture in a temporary directory that is removed afterwards. */
export const replay = (fixture: Fixture) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(replayTempRoot(), "lomi-replay-"))),
    (dir) => {
      const clock = new VirtualClock(fixture.start)
      return Effect.scoped(runFixture(fixture, dir, clock)).pipe(
        Effect.withClock(clock),
        // Nobody reads a replay's spans (they are not part of the result): without the tracer every
        // SQL statement and withSpan skips building a span and reading the clock twice for it.
        Effect.withTracerEnabled(false),
        // Fibers resume on microtasks only: the default scheduler's occasional timer-based
        // yield could let work slip past settle's quiet turns.
        Effect.withScheduler(new Scheduler.MixedScheduler(Number.MAX_SAFE_INTEGER))
      )
    },
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
