/**
 * The dashboard server's layer graph: the same HTTP layer the kernel used to
 * serve, on a read-only database and the kernel's control socket. The stores
 * it builds (jobs, holds, tunables) are used for their reads only; the
 * connection refuses writes, so a handler that tried one would fail loudly.
 */
import { Layer } from "effect"
import type { StaticConfig } from "../../schemas/config.ts"
import { controlSocketPath } from "../control/protocol.ts"
import { executorKind } from "../http/liveRuns.ts"
import { httpServeLayer, type HttpOptions } from "../http/server.ts"
import { Activity } from "../activity.ts"
import { MailboxesLive } from "../mailboxes.ts"
import { databaseFile } from "../paths.ts"
import { processSamplerLayer } from "../processStats.ts"
import { HoldStore } from "../store/holds.ts"
import { JobStore } from "../store/jobs.ts"
import { TunableStore } from "../store/tunables.ts"
import { readOnlyDatabaseLayer } from "./database.ts"
import { idleCollectorLayer } from "./idleCollector.ts"
import { kernelLinkLayer } from "./link.ts"
import {
  CommandBusOverControl,
  EventBusOverControl,
  FirestoreOverControl,
  GaugesOverControl,
  HealthOverControl,
  LifecycleOverControl,
  liveRunsOverControl,
  LiveStateFollower,
  OutageOverControl,
  WriteProbeOverControl
} from "./services.ts"

/**
 * The dashboard's bounds: requests answered at once, and open live streams.
 * 32 in flight keeps an admitted request's wait to a few dozen requests'
 * work (a jobs page costs 1-3 ms of CPU), so answers stay well under a
 * second however many clients there are; the rest get an immediate 503 with
 * Retry-After instead of a queue that would hold every answer back. Streams
 * cost a registration and a shared write each (kernel/http/sseHub.ts).
 */
export const DASHBOARD_LIMITS = { maxInFlight: 32, maxStreams: 512 } as const

export const dashboardLayer = (config: StaticConfig, options: HttpOptions = {}) => {
  const link = kernelLinkLayer(controlSocketPath(config.dataDir))
  const overControl = Layer.mergeAll(
    CommandBusOverControl,
    EventBusOverControl,
    FirestoreOverControl,
    HealthOverControl,
    LifecycleOverControl,
    WriteProbeOverControl,
    liveRunsOverControl(executorKind(config)),
    GaugesOverControl.pipe(Layer.provide(processSamplerLayer("dashboard")))
  ).pipe(Layer.provideMerge(link))
  const stores = Layer.mergeAll(JobStore.Default, HoldStore.Default, TunableStore.Default, OutageOverControl).pipe(
    Layer.provide(MailboxesLive.pipe(Layer.provide(Activity.Default))),
    Layer.provideMerge(readOnlyDatabaseLayer(databaseFile(config.dataDir))),
    Layer.provideMerge(overControl)
  )
  const follower = LiveStateFollower.pipe(Layer.provideMerge(stores), Layer.merge(idleCollectorLayer))
  return httpServeLayer(config, { ...DASHBOARD_LIMITS, ...options }).pipe(Layer.provideMerge(follower))
}
