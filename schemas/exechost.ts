/**
 * The execution host's protocol (kernel ↔ host over `<dataDir>/exechost.sock`,
 * framed by kernel/ipc). Mirrors the Executor port (kernel/ports/executor.ts).
 *
 * Requests: Start(spec, sandbox) · Kill(runId, graceMs) · Status(runIds) ·
 * Acknowledge(runId) · Live · StopAll(graceMs) · Stats (the host's own gauges).
 * Events: Started(runId, pid) · Exited(runId, exit) · Lost(runId, message).
 *
 * An Exited or Lost is pushed when it happens and again to every new
 * connection until the kernel acknowledges the run: a kernel that was down
 * or disconnected learns every outcome it missed on its next dial.
 * `sandbox` travels with each Start (the kernel owns SANDBOX_ENABLED); the
 * host records it with the run so the same launcher finishes it.
 */
import { Schema } from "effect"
import { ProcessStats } from "./gauges.ts"
import { PipelineExitSchema, PipelineSpecSchema } from "./pipeline.ts"

export { PipelineExitSchema, PipelineSpecSchema }


export const RunStatusSchema = Schema.Union(
  Schema.TaggedStruct("Running", { pid: Schema.optional(Schema.Int), externalId: Schema.optional(Schema.String) }),
  Schema.TaggedStruct("Exited", { exit: PipelineExitSchema }),
  Schema.TaggedStruct("Lost", { message: Schema.String }),
  Schema.TaggedStruct("Unknown", {})
)

export const LiveRunSchema = Schema.Struct({
  runId: Schema.Int,
  docId: Schema.String,
  pid: Schema.optional(Schema.Int),
  externalId: Schema.optional(Schema.String),
  externalState: Schema.optional(Schema.String),
  startedAt: Schema.String
})

/** The host could not start the run (bad spec, launcher refused, spawn failed). Nothing runs. */
export class StartRefused extends Schema.TaggedError<StartRefused>()("StartRefused", { message: Schema.String }) {}

export class Start extends Schema.TaggedRequest<Start>()("Start", {
  payload: { spec: PipelineSpecSchema, sandbox: Schema.Boolean },
  success: RunStatusSchema,
  failure: StartRefused
}) {}

export class Kill extends Schema.TaggedRequest<Kill>()("Kill", {
  payload: { runId: Schema.Int, graceMs: Schema.NonNegative },
  success: Schema.Void,
  failure: Schema.Never
}) {}

export class Status extends Schema.TaggedRequest<Status>()("Status", {
  payload: { runIds: Schema.Array(Schema.Int) },
  success: Schema.Array(Schema.Tuple(Schema.Int, RunStatusSchema)),
  failure: Schema.Never
}) {}

export class Acknowledge extends Schema.TaggedRequest<Acknowledge>()("Acknowledge", {
  payload: { runId: Schema.Int },
  success: Schema.Void,
  failure: Schema.Never
}) {}

export class Live extends Schema.TaggedRequest<Live>()("Live", {
  payload: {},
  success: Schema.Array(LiveRunSchema),
  failure: Schema.Never
}) {}

/** The explicit "stop all pipelines": every live run is killed; answers how many were. */
export class StopAll extends Schema.TaggedRequest<StopAll>()("StopAll", {
  payload: { graceMs: Schema.NonNegative },
  success: Schema.Int,
  failure: Schema.Never
}) {}

/** The host's process gauges (memory, event loop), sampled in the host, for /metrics. */
export class Stats extends Schema.TaggedRequest<Stats>()("Stats", {
  payload: {},
  success: ProcessStats,
  failure: Schema.Never
}) {}

export const HostRequest = Schema.Union(Start, Kill, Status, Acknowledge, Live, StopAll, Stats)
export type HostRequest = typeof HostRequest.Type

export const HostEvent = Schema.Union(
  Schema.TaggedStruct("Started", { runId: Schema.Int, pid: Schema.Int }),
  Schema.TaggedStruct("Exited", { runId: Schema.Int, exit: PipelineExitSchema }),
  Schema.TaggedStruct("Lost", { runId: Schema.Int, message: Schema.String })
)
export type HostEvent = typeof HostEvent.Type

/** What the monitor writes to `<run>/exit`. */
export const RawExitSchema = Schema.Struct({
  code: Schema.NullOr(Schema.Int),
  signal: Schema.NullOr(Schema.String),
  timedOut: Schema.Boolean
})
