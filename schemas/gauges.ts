/** Process gauges for /metrics, sampled in the process they describe (kernel/processStats.ts). */
import { Schema } from "effect"

/** One process's gauges, sampled where it runs. */
export const ProcessStats = Schema.Struct({
  /** kernel | dashboard | exechost */
  process: Schema.String,
  pid: Schema.Number,
  rssBytes: Schema.Number,
  heapUsedBytes: Schema.Number,
  heapTotalBytes: Schema.Number,
  /** Event-loop delay over the last sampling window, milliseconds. */
  eventLoopDelayP50Ms: Schema.Number,
  eventLoopDelayP99Ms: Schema.Number,
  /** Share of the last sampling window the event loop was busy, 0..1. */
  eventLoopUtilization: Schema.Number
})
export type ProcessStats = typeof ProcessStats.Type
