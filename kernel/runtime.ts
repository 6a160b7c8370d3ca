/**
 * The allocator's layer graph. The outside world comes in as ports
 * (Firestore, the executor that runs pipelines, mail) plus the clock; everything else is built here:
 * the database, the stores, the mailboxes, start-up recovery, and then the
 * actors, each a supervised fiber in this layer's scope. Closing the scope
 * interrupts every actor and runs their finalizers.
 */
import { Layer } from "effect"
import { CleanupLive } from "../actors/cleanup.ts"
import { DispatcherLive } from "../actors/dispatcher.ts"
import { HoldsLive } from "../actors/holds.ts"
import { JobCommandsLive } from "../actors/jobCommands.ts"
import { KillerLive } from "../actors/killer.ts"
import { ListenerLive } from "../actors/listener.ts"
import { NotifierLive } from "../actors/notifier.ts"
import { OutageWatchLive } from "../actors/outageWatch.ts"
import { PromoterLive } from "../actors/promoter.ts"
import { RecoveryLive } from "../actors/recovery.ts"
import { WorkersLive } from "../actors/workers/supervisor.ts"
import { Activity } from "./activity.ts"
import { CommandBus } from "./commandBus.ts"
import { PermanentFailure } from "./failure.ts"
import { MailboxesLive } from "./mailboxes.ts"
import { Outage } from "./outage.ts"
import { RunFiles } from "./runFiles.ts"
import type { Executor } from "./ports/executor.ts"
import { databaseLayer } from "./store/database.ts"
import { CommandLog } from "./store/commandLog.ts"
import { HoldStore } from "./store/holds.ts"
import { JobStore } from "./store/jobs.ts"
import { NotificationLog } from "./store/notifications.ts"
import { OcrCache } from "./store/ocrCache.ts"
import { TunableStore } from "./store/tunables.ts"
import { WriteProbe } from "./store/writeProbe.ts"

/** The database and everything that only needs it: what a read-only tool (the HTTP layer's reads) can use. */
export const storeLayer = (databaseFile: string) =>
  Layer.mergeAll(
    JobStore.Default,
    HoldStore.Default,
    CommandLog.Default,
    NotificationLog.Default,
    OcrCache.Default,
    TunableStore.Default,
    WriteProbe.Default,
    Outage.Default,
    RunFiles.Default
  ).pipe(
    Layer.provideMerge(MailboxesLive),
    Layer.provideMerge(Activity.Default),
    Layer.provideMerge(databaseLayer(databaseFile))
  )

export const ActorsLive = Layer.mergeAll(
  ListenerLive,
  DispatcherLive,
  PromoterLive,
  WorkersLive,
  KillerLive,
  JobCommandsLive,
  HoldsLive,
  NotifierLive,
  OutageWatchLive,
  CleanupLive
)

/**
 * The whole allocator on one database file. `executor` may depend on the
 * stores (the sandbox switch is a stored tunable). Its pipelines are not in
 * this layer's scope: closing it stops following them, never kills them.
 */
export const allocatorLayer = <E, R>(databaseFile: string, executor: Layer.Layer<Executor, E, R>) => {
  const stores = storeLayer(databaseFile)
  const services = Layer.mergeAll(PermanentFailure.Default, CommandBus.Default).pipe(Layer.provideMerge(stores))
  const withExecutor = executor.pipe(Layer.provideMerge(services))
  return ActorsLive.pipe(Layer.provide(RecoveryLive), Layer.provideMerge(withExecutor))
}
