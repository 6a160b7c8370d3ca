/**
 * The kernel's side of the control protocol: the dashboard server's commands
 * run through the same CommandBus as before (audited in command_log, routed
 * to the owning actor); every EventBus event is pushed to every connected
 * dashboard, in batches (what came within 25 ms goes out as one frame), and the
 * live state (outage, tunables) on connect and on change.
 *
 * The EventBus subscription is taken before the socket listens, so nothing
 * published after start-up is missed by a dashboard already connected. A
 * slow dashboard is cut off by the framing (kernel/ipc) and re-synchronises:
 * the kernel never buffers without bound for it.
 */
import { Chunk, Duration, Effect, Layer, Queue, Stream } from "effect"
import { FirestoreReadFailed, type LiveState, WriteRefused } from "../../schemas/control.ts"
import type { AllocatorEvent } from "../../schemas/events.ts"
import { CommandBus } from "../commandBus.ts"
import { AppConfig } from "../config.ts"
import { HostGauges } from "../exechost/client.ts"
import { EventBus } from "../events.ts"
import { HealthChecks } from "../http/health.ts"
import { executorKind, readLiveRuns } from "../http/liveRuns.ts"
import { serve } from "../ipc/server.ts"
import { Outage } from "../outage.ts"
import { Executor } from "../ports/executor.ts"
import { FirestorePort, type FirestoreError } from "../ports/firestore.ts"
import { ProcessSampler } from "../processStats.ts"
import { KernelLifecycle } from "../restart.ts"
import { TunableStore } from "../store/tunables.ts"
import { WriteProbe } from "../store/writeProbe.ts"
import { ControlProtocol, controlSocketPath } from "./protocol.ts"

/** Events per frame at most: a frame stays far under the framing's size limit. */
const MAX_BATCH = 512
/**
 * How long the first event of a batch waits for others. The events of one
 * job come tens of milliseconds apart, and a socket write costs about a
 * millisecond of the kernel's CPU on a loaded machine: without the wait each
 * event went out alone. A browser does not see 25 ms.
 */
const LINGER = Duration.millis(25)

const readFailed = (e: FirestoreError) => new FirestoreReadFailed({ operation: e.operation, message: e.message })

export const controlServerLayer = (dataDir: string) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const bus = yield* CommandBus
      const events = yield* EventBus
      const port = yield* FirestorePort
      const health = yield* HealthChecks
      const outage = yield* Outage
      const tunables = yield* TunableStore
      const sampler = yield* ProcessSampler
      const lifecycle = yield* KernelLifecycle
      const writes = yield* WriteProbe
      const executor = yield* Executor
      const kind = executorKind(yield* AppConfig)
      // Only the execution host's client provides it; with Slurm there is no host to report.
      const hostGauges = yield* Effect.serviceOption(HostGauges)

      const live: Effect.Effect<LiveState> = Effect.map(
        Effect.all([outage.isDown, tunables.get]),
        ([down, values]) => ({ _tag: "live", outage: down, tunables: { ...values } })
      )

      const subscription = yield* events.subscribe
      const server = yield* serve({
        socketPath: controlSocketPath(dataDir),
        protocol: ControlProtocol,
        handlers: {
          ExecuteCommand: (request) => bus.execute(request.user, request.command),
          ReadDocument: (request) =>
            (request.collection === "reports" ? port.getReport(request.id) : port.getPatient(request.id)).pipe(
              Effect.map((data) => data ?? null),
              Effect.mapError(readFailed)
            ),
          CheckFirestore: () => Effect.mapError(port.checkConnectivity, readFailed),
          GetHealth: (request) =>
            request.refresh === undefined
              ? health.get
              : health.refresh(request.refresh === "all" ? undefined : request.refresh),
          GetProcessStats: () =>
            Effect.all([
              sampler.sample,
              hostGauges._tag === "Some" ? Effect.option(hostGauges.value.sample) : Effect.succeedNone
            ]).pipe(Effect.map(([own, host]) => (host._tag === "Some" ? [own, host.value] : [own]))),
          GetLiveRuns: () => readLiveRuns(executor, kind),
          GetLifecycle: () =>
            Effect.all({
              startedAt: lifecycle.startedAt,
              restarting: lifecycle.restarting,
              pending: lifecycle.pending
            }),
          RequestRestart: (request) => Effect.asVoid(lifecycle.request(request.user)),
          ProbeWrite: () =>
            writes.probe.pipe(
              Effect.mapError((e) => new WriteRefused({ message: e.cause instanceof Error ? e.cause.message : e.message }))
            )
        },
        onConnect: (connection) => Effect.map(live, connection.send)
      })

      // All events waiting at once go out as one frame (one socket write per batch, not per event).
      // A batch the schema refuses (a publisher's bug) is sent again event by event, the bad one logged and skipped.
      const forwardOne = (event: AllocatorEvent) =>
        Effect.try(() => server.publish({ _tag: "bus", events: [event] })).pipe(
          Effect.catchAll((e) => Effect.logError(`event not forwarded to the dashboard: ${String(e.error)}`, event._tag))
        )
      const forward = (batch: ReadonlyArray<AllocatorEvent>) =>
        Effect.try(() => server.publish({ _tag: "bus", events: batch })).pipe(
          Effect.catchAll(() => Effect.forEach(batch, forwardOne, { discard: true }))
        )
      yield* Queue.take(subscription).pipe(
        Effect.zipLeft(Effect.sleep(LINGER)),
        Effect.flatMap((first) => Effect.map(Queue.takeUpTo(subscription, MAX_BATCH - 1), (rest) => [first, ...Chunk.toReadonlyArray(rest)])),
        Effect.flatMap(forward),
        Effect.forever,
        Effect.forkScoped
      )
      // Each `changes` starts with its current value: one redundant snapshot at start, harmless.
      yield* Stream.merge(outage.changes, tunables.changes).pipe(
        Stream.runForEach(() => Effect.flatMap(live, (state) => Effect.sync(() => server.publish(state)))),
        Effect.forkScoped
      )
      yield* Effect.logInfo(`control socket listening on ${controlSocketPath(dataDir)}`)
    })
  )
