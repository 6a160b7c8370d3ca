/**
 * The kernel's services as the dashboard server sees them: the HTTP handlers
 * keep depending on the same tags (CommandBus, EventBus, Outage,
 * FirestorePort, HealthChecks, ProcessGauges, LiveRuns), and here each is backed by the
 * control socket instead of the allocator's own fibers.
 *
 * A command the kernel cannot be asked (socket down, or no answer in time)
 * ends the request with a 503 "allocator not reachable": never a silent
 * success, and never a 500. Reads that only the kernel can make (Firestore
 * documents, health) report the kernel as unreachable in their own shapes.
 */
import { HttpServerResponse } from "@effect/platform"
import { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect, Layer, PubSub, Queue, type Scope, Stream, SubscriptionRef } from "effect"
import {
  CheckFirestore,
  ExecuteCommand,
  type FirestoreReadFailed,
  GetHealth,
  GetLifecycle,
  GetLiveRuns,
  GetProcessStats,
  type LiveRunsReport,
  ProbeWrite,
  ReadDocument,
  RequestRestart
} from "../../schemas/control.ts"
import type { AllocatorEvent } from "../../schemas/events.ts"
import { HEALTH_CHECK_NAMES, type HealthResult } from "../../schemas/health.ts"
import { CommandBus } from "../commandBus.ts"
import { EventBus } from "../events.ts"
import { HealthChecks } from "../http/health.ts"
import { LIVE_RUNS_TIMEOUT, LiveRuns } from "../http/liveRuns.ts"
import { ProcessGauges } from "../http/metrics.ts"
import type { IpcUnavailable } from "../ipc/client.ts"
import { Outage } from "../outage.ts"
import { FirestoreError, FirestorePort } from "../ports/firestore.ts"
import { ProcessSampler } from "../processStats.ts"
import { KernelLifecycle } from "../restart.ts"
import { TunableStore } from "../store/tunables.ts"
import { WriteProbe } from "../store/writeProbe.ts"
import { nowIso } from "../time.ts"
import { KernelLink } from "./link.ts"

/** A command may wait on an actor (a kill's grace period, Firestore reads): long, but bounded. */
const COMMAND_TIMEOUT = Duration.seconds(60)
const READ_TIMEOUT = Duration.seconds(10)
const GAUGES_TIMEOUT = Duration.seconds(2)
/** Every open dashboard asks on each run event: one question to the kernel per second serves them all. */
const LIVE_RUNS_TTL = Duration.seconds(1)

export const UNREACHABLE = "allocator not reachable"

/** Ends the request with 503; the response itself is the defect, so it is not logged as a crash. */
const unreachable = (e: IpcUnavailable) =>
  Effect.die(HttpServerResponse.unsafeJson({ _tag: "Unavailable", message: `${UNREACHABLE}: ${e.message}` }, { status: 503 }))

export const CommandBusOverControl = Layer.effect(
  CommandBus,
  Effect.map(KernelLink, (link) =>
    CommandBus.make({
      execute: (user, command) =>
        link.call(new ExecuteCommand({ user, command }), COMMAND_TIMEOUT).pipe(Effect.catchTag("IpcUnavailable", unreachable))
    })
  )
)

/** Subscribers read the kernel's events; `publish` (for completeness: nothing here publishes) stamps the local clock. */
export const EventBusOverControl = Layer.effect(
  EventBus,
  Effect.map(KernelLink, (link) =>
    EventBus.make({
      publish: (event) =>
        nowIso.pipe(
          Effect.flatMap((at) => PubSub.publish(link.events, { ...event, at } as AllocatorEvent)),
          Effect.asVoid
        ),
      subscribe: PubSub.subscribe(link.events) as Effect.Effect<Queue.Dequeue<AllocatorEvent>, never, Scope.Scope>
    })
  )
)

/**
 * A real Outage (with a private event bus, so its own announcements do not
 * reach SSE twice), driven by the kernel's live state; tunables are re-read
 * from the database whenever the kernel says they changed.
 */
export const LiveStateFollower = Layer.scopedDiscard(
  Effect.gen(function* () {
    const link = yield* KernelLink
    const outage = yield* Outage
    const tunables = yield* TunableStore
    yield* link.live.changes.pipe(
      Stream.runForEach((state) =>
        state === undefined
          ? Effect.void
          : Effect.zipRight(state.outage ? outage.enter : Effect.asVoid(outage.leave), tunables.refresh)
      ),
      Effect.forkScoped
    )
  })
)

export const OutageOverControl = Outage.Default.pipe(Layer.provide(Layer.fresh(EventBus.Default)))

const asFirestoreError = (operation: string) => (e: FirestoreReadFailed | IpcUnavailable) =>
  new FirestoreError({
    operation: e._tag === "FirestoreReadFailed" ? e.operation : operation,
    message: e._tag === "FirestoreReadFailed" ? e.message : `${UNREACHABLE}: ${e.message}`
  })

export const FirestoreOverControl = Layer.effect(
  FirestorePort,
  Effect.map(KernelLink, (link) => {
    const read = (collection: "reports" | "patients", id: string) =>
      link.call(new ReadDocument({ collection, id }), READ_TIMEOUT).pipe(
        Effect.map((data) => data ?? undefined),
        Effect.mapError(asFirestoreError(`read ${collection}/${id}`))
      )
    return {
      watchDataReady: Stream.fail(
        new FirestoreError({ operation: "watch", message: "the dashboard server does not watch Firestore; the allocator does" })
      ),
      getReport: (id) => read("reports", id),
      getPatient: (id) => read("patients", id),
      writeStatus: (id) =>
        Effect.fail(
          new FirestoreError({ operation: `write reports/${id}`, message: "the dashboard server never writes Firestore; send a command" })
        ),
      checkConnectivity: link.call(new CheckFirestore(), READ_TIMEOUT).pipe(Effect.mapError(asFirestoreError("connectivity")))
    }
  })
)

const unreachableResults = (e: IpcUnavailable) =>
  Effect.map(nowIso, (checkedAt): ReadonlyArray<HealthResult> =>
    HEALTH_CHECK_NAMES.map((name) => ({ name, ok: false, detail: `${UNREACHABLE}: ${e.message}`, checkedAt, latencyMs: 0 }))
  )

export const HealthOverControl = Layer.effect(
  HealthChecks,
  Effect.map(KernelLink, (link) => ({
    get: link.call(new GetHealth({}), READ_TIMEOUT).pipe(Effect.catchTag("IpcUnavailable", unreachableResults)),
    refresh: (name) =>
      link.call(new GetHealth({ refresh: name ?? "all" }), READ_TIMEOUT).pipe(Effect.catchTag("IpcUnavailable", unreachableResults))
  }))
)

/** The dashboard's own gauges, then the kernel's (and whatever it reports for the execution host). */
export const GaugesOverControl = Layer.effect(
  ProcessGauges,
  Effect.gen(function* () {
    const link = yield* KernelLink
    const sampler = yield* ProcessSampler
    return {
      all: Effect.gen(function* () {
        const own = yield* sampler.sample
        const others = yield* link.call(new GetProcessStats(), GAUGES_TIMEOUT).pipe(Effect.orElseSucceed(() => []))
        return [own, ...others]
      })
    }
  })
)

/**
 * The executor's live runs, asked of the kernel and shared for LIVE_RUNS_TTL
 * by every request (concurrent ones wait for the one question in flight).
 * The kernel away is an answer too: `available: false`, with the reason.
 */
export const liveRunsOverControl = (kind: LiveRunsReport["executor"]) =>
  Layer.effect(
    LiveRuns,
    Effect.gen(function* () {
      const link = yield* KernelLink
      const ask = link.call(new GetLiveRuns(), Duration.sum(LIVE_RUNS_TIMEOUT, Duration.seconds(1))).pipe(
        Effect.catchTag("IpcUnavailable", (e) =>
          Effect.map(nowIso, (checkedAt) => ({
            executor: kind,
            available: false,
            message: `${UNREACHABLE}: ${e.message}`,
            checkedAt,
            runs: []
          }))
        )
      )
      return { get: yield* Effect.cachedWithTTL(ask, LIVE_RUNS_TTL) }
    })
  )

/**
 * "Restart now" and its status, asked of the kernel. The dashboard server
 * itself is not restarted: sessions and open pages stay while the kernel
 * stops and starts, and `requested` (what the kernel's entry point waits on)
 * never resolves here.
 */
export const LifecycleOverControl = Layer.effect(
  KernelLifecycle,
  Effect.map(KernelLink, (link) => {
    const status = link.call(new GetLifecycle(), READ_TIMEOUT).pipe(Effect.catchTag("IpcUnavailable", unreachable))
    return KernelLifecycle.make({
      startedAt: Effect.map(status, (s) => s.startedAt),
      pending: Effect.map(status, (s) => s.pending),
      restarting: Effect.map(status, (s) => s.restarting),
      request: (by) =>
        link.call(new RequestRestart({ user: by }), READ_TIMEOUT).pipe(
          Effect.catchTag("IpcUnavailable", unreachable),
          Effect.as(true)
        ),
      requested: Effect.never
    })
  })
)

/** The kernel writes the database; readiness asks it to, and the kernel being away is not ready either. */
export const WriteProbeOverControl = Layer.effect(
  WriteProbe,
  Effect.map(KernelLink, (link) =>
    WriteProbe.make({
      probe: link.call(new ProbeWrite(), READ_TIMEOUT).pipe(
        Effect.mapError(
          (e) =>
            new SqlError({
              cause: new Error(e._tag === "WriteRefused" ? e.message : `${UNREACHABLE}: ${e.message}`),
              message: e.message
            })
        )
      )
    })
  )
)
