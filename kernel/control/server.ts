/**
 * The kernel's side of the control protocol: the dashboard server's commands
 * run through the same CommandBus as before (audited in command_log, routed
 * to the owning actor); every EventBus event is pushed to every connected
 * dashboard, and the live state (outage, tunables) on connect and on change.
 *
 * The EventBus subscription is taken before the socket listens, so nothing
 * published after start-up is missed by a dashboard already connected. A
 * slow dashboard is cut off by the framing (kernel/ipc) and re-synchronises:
 * the kernel never buffers without bound for it.
 */
import { Effect, Layer, Queue, Stream } from "effect"
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

      // One event the schema refuses (a publisher's bug) is logged and skipped; the stream goes on.
      const forward = (event: AllocatorEvent) =>
        Effect.try(() => server.publish({ _tag: "bus", event })).pipe(
          Effect.catchAll((e) => Effect.logError(`event not forwarded to the dashboard: ${String(e.error)}`, event._tag))
        )
      yield* Queue.takeBetween(subscription, 1, 256).pipe(
        Effect.flatMap((batch) => Effect.forEach(batch, forward, { discard: true })),
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
