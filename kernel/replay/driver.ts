/**
 * The replay driver (shared/contracts/replay.md). It runs the real allocator
 * layer against the replay world on the test clock, applies each step at its
 * instant, settles in between, and records the trace and snapshots. A crash
 * closes the allocator's scope with its events muted (in-flight pipelines
 * simply vanish) and builds it again on the same database, so start-up
 * recovery runs exactly as in production.
 */
import { Context, Duration, Effect, Exit, Layer, Queue, Scheduler, Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { OperatorCommand } from "../../schemas/commands.ts"
import type { AllocatorEvent } from "../../schemas/events.ts"
import { type Fixture, type FixtureCommand, type FixtureOutcome, type FixtureStep, offsetMillis } from "../../schemas/fixture.ts"
import { CommandBus } from "../commandBus.ts"
import { EventBus } from "../events.ts"
import { MemoryFirestore } from "../firestore/memory.ts"
import { databaseFile } from "../paths.ts"
import { ProcessPort } from "../ports/process.ts"
import { allocatorLayer, storeLayer } from "../runtime.ts"
import { TunableStore } from "../store/tunables.ts"
import { advanceTo, settle } from "./settle.ts"
import { VirtualClock } from "./virtualClock.ts"
import { type SimOutcome, SimScript } from "./simProcess.ts"
import { type ReplaySnapshot, takeSnapshot, type TraceEntry, toTraceEntry } from "./snapshot.ts"
import { replayConfig, replayWorldLayer } from "./world.ts"

export interface ReplayResult {
  readonly name: string
  readonly trace: ReadonlyArray<TraceEntry>
  readonly snapshots: Readonly<Record<string, ReplaySnapshot>>
}

const toSimOutcome = (o: FixtureOutcome): SimOutcome =>
  "hang" in o ? { _tag: "Hang" } : { _tag: "Exit", code: o.exit, after: Duration.millis(offsetMillis(o.after)) }

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
    const world = yield* Layer.build(replayWorldLayer(config))
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

    // Tunables are in place before any actor starts, as they would be in a stored database.
    yield* Effect.scoped(
      Effect.gen(function* () {
        const stores = yield* Layer.build(storeLayer(databaseFile(config.dataDir)))
        const tunables = Context.get(stores, TunableStore)
        for (const [key, value] of Object.entries(fixture.tunables)) yield* tunables.set(key, value, REPLAY_USER)
      }).pipe(Effect.provide(world))
    ).pipe(Effect.orDie)

    const allocator = allocatorLayer(databaseFile(config.dataDir), Layer.effect(ProcessPort, ProcessPort))
    const start = Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(allocator, scope).pipe(Effect.provide(world))
      return { scope, context }
    }).pipe(Effect.orDie)
    let current = yield* start
    const inAllocator = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.provide(Effect.provide(effect, current.context), world)

    yield* inAllocator(settle)
    yield* drainEvents

    const snapshots: Record<string, ReplaySnapshot> = {}
    const clear = (after: string, undo: Effect.Effect<void>) =>
      Effect.forkDaemon(Effect.sleep(Duration.millis(offsetMillis(after))).pipe(Effect.zipRight(undo)))

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
            const script = yield* inWorld(SimScript)
            return yield* script.append(step.value.doc, step.value.runs.map(toSimOutcome))
          }
          case "command": {
            const command = toCommand(step.value)
            yield* inAllocator(Effect.flatMap(CommandBus, (bus) => bus.execute(REPLAY_USER, command))).pipe(Effect.forkDaemon)
            return
          }
          case "crash": {
            yield* drainEvents
            yield* Scope.close(current.scope, Exit.void)
            yield* Queue.takeAll(events)
            current = yield* start
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
          case "snapshot":
            yield* inAllocator(settle)
            yield* drainEvents
            snapshots[step.value] = yield* inAllocator(takeSnapshot(emails))
            return
        }
      })

    for (const step of fixture.steps) {
      yield* inAllocator(advanceTo(clock, fixture.start + step.at))
      yield* drainEvents
      yield* apply(step)
      yield* inAllocator(settle)
      yield* drainEvents
    }
    yield* inAllocator(advanceTo(clock, fixture.start + fixture.until))
    yield* drainEvents
    snapshots.final = yield* inAllocator(takeSnapshot(emails))
    yield* Scope.close(current.scope, Exit.void)
    const result: ReplayResult = { name: fixture.name, trace, snapshots }
    return result
  })

/** Replays a decoded fixture in a temporary directory that is removed afterwards. */
export const replay = (fixture: Fixture) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "lomi-replay-"))),
    (dir) => {
      const clock = new VirtualClock(fixture.start)
      return Effect.scoped(runFixture(fixture, dir, clock)).pipe(
        Effect.withClock(clock),
        // Fibers resume on microtasks only: the default scheduler's occasional timer-based
        // yield could let work slip past settle's quiet turns.
        Effect.withScheduler(new Scheduler.MixedScheduler(Number.MAX_SAFE_INTEGER))
      )
    },
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
