/**
 * The control protocol between the kernel (the allocator) and the dashboard
 * server, over `<dataDir>/control.sock` (framing: kernel/ipc).
 *
 * The dashboard reads SQLite itself (read-only); everything else it needs
 * from the kernel goes through here:
 * - requests: an operator command with the signed-in user (the kernel audits
 *   it in command_log and routes it, exactly as for an in-process caller),
 *   Firestore reads, the cached health checks, process gauges, and the runs
 *   the executor follows right now;
 * - events, pushed: every AllocatorEvent, in batches (for SSE and metrics) and, on
 *   connect and whenever it changes, the live state (outage mode, tunables).
 * Events are not replayed across a reconnect; the live state is re-sent.
 */
import { Schema } from "effect"
import { CommandResult, OperatorCommand } from "./commands.ts"
import { AllocatorEvent } from "./events.ts"
import { LiveRunSchema } from "./exechost.ts"
import { ProcessStats } from "./gauges.ts"
import { HealthCheckName, HealthResult } from "./health.ts"
import { ReportData } from "./report.ts"
import { TunableKey } from "./tunables.ts"

export const CONTROL_SOCKET = "control.sock"

export { ProcessStats } from "./gauges.ts"

export class FirestoreReadFailed extends Schema.TaggedError<FirestoreReadFailed>()("FirestoreReadFailed", {
  operation: Schema.String,
  message: Schema.String
}) {}

/** An operator command on behalf of `user`; answered once the owning actor has decided. */
export class ExecuteCommand extends Schema.TaggedRequest<ExecuteCommand>()("ExecuteCommand", {
  failure: Schema.Never,
  success: CommandResult,
  payload: { user: Schema.String, command: OperatorCommand }
}) {}

/** A document of `reports` or `patients`; null when it does not exist. */
export class ReadDocument extends Schema.TaggedRequest<ReadDocument>()("ReadDocument", {
  failure: FirestoreReadFailed,
  success: Schema.NullOr(ReportData),
  payload: { collection: Schema.Literal("reports", "patients"), id: Schema.String }
}) {}

/** The bounded connectivity read the Firestore health check uses. */
export class CheckFirestore extends Schema.TaggedRequest<CheckFirestore>()("CheckFirestore", {
  failure: FirestoreReadFailed,
  success: Schema.Void,
  payload: {}
}) {}

/** The cached health checks; `refresh` runs the named one (or all, when "all") now. */
export class GetHealth extends Schema.TaggedRequest<GetHealth>()("GetHealth", {
  failure: Schema.Never,
  success: Schema.Array(HealthResult),
  payload: { refresh: Schema.optional(Schema.Union(HealthCheckName, Schema.Literal("all"))) }
}) {}

/** Gauges of the kernel and of the processes it talks to (the execution host, when it answers). */
export class GetProcessStats extends Schema.TaggedRequest<GetProcessStats>()("GetProcessStats", {
  failure: Schema.Never,
  success: Schema.Array(ProcessStats),
  payload: {}
}) {}

/**
 * The runs the executor follows right now (the execution host's monitors, or
 * Slurm jobs with their scheduler state), for the dashboard. When the
 * executor does not answer in time, `available` is false, `message` says why
 * and `runs` is empty: "not known" then, never "not followed".
 */
export const LiveRunsReport = Schema.Struct({
  executor: Schema.Literal("host", "slurm"),
  available: Schema.Boolean,
  message: Schema.optional(Schema.String),
  /** When the executor was asked (ISO-8601 UTC): a row that started after this cannot be in `runs` yet. */
  checkedAt: Schema.String,
  runs: Schema.Array(LiveRunSchema)
})
export type LiveRunsReport = typeof LiveRunsReport.Type

export class GetLiveRuns extends Schema.TaggedRequest<GetLiveRuns>()("GetLiveRuns", {
  failure: Schema.Never,
  success: LiveRunsReport,
  payload: {}
}) {}

export const Lifecycle = Schema.Struct({
  /** When the running kernel started (ISO-8601 UTC): a new value means it was restarted. */
  startedAt: Schema.String,
  restarting: Schema.Boolean,
  /** Restart-required tunables whose stored value is not the one the kernel runs with. */
  pending: Schema.Array(Schema.Struct({ key: TunableKey, running: Schema.Number, stored: Schema.Number }))
})
export type Lifecycle = typeof Lifecycle.Type

export class GetLifecycle extends Schema.TaggedRequest<GetLifecycle>()("GetLifecycle", {
  failure: Schema.Never,
  success: Lifecycle,
  payload: {}
}) {}

/** "Restart now": the kernel stops in order and exits 75 for its supervisor to start it again. */
export class RequestRestart extends Schema.TaggedRequest<RequestRestart>()("RequestRestart", {
  failure: Schema.Never,
  success: Schema.Void,
  payload: { user: Schema.String }
}) {}

export class WriteRefused extends Schema.TaggedError<WriteRefused>()("WriteRefused", { message: Schema.String }) {}

/** /readyz's check, made by the process that writes: can the database take a write right now? */
export class ProbeWrite extends Schema.TaggedRequest<ProbeWrite>()("ProbeWrite", {
  failure: WriteRefused,
  success: Schema.Void,
  payload: {}
}) {}

export const ControlRequest = Schema.Union(
  ExecuteCommand,
  ReadDocument,
  CheckFirestore,
  GetHealth,
  GetProcessStats,
  GetLifecycle,
  RequestRestart,
  ProbeWrite,
  GetLiveRuns
)
export type ControlRequest = typeof ControlRequest.Type

export const LiveState = Schema.TaggedStruct("live", {
  outage: Schema.Boolean,
  tunables: Schema.Record({ key: Schema.String, value: Schema.Number })
})
export type LiveState = typeof LiveState.Type

/**
 * AllocatorEvents in publication order, as many as were waiting when the
 * kernel wrote: one frame (one socket write) per batch, not per event, so a
 * burst of state changes costs the kernel a few writes, not thousands.
 */
export const EventBatch = Schema.TaggedStruct("bus", { events: Schema.Array(AllocatorEvent) })
export type EventBatch = typeof EventBatch.Type

export const ControlEvent = Schema.Union(EventBatch, LiveState)
export type ControlEvent = typeof ControlEvent.Type
