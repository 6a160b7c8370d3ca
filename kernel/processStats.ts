/**
 * This process's gauges for /metrics: memory now, and the event loop's delay
 * (p50/p99) and utilisation over the last sampling window. Windows rather
 * than since-start figures, so a stall shows up while it is happening and an
 * old one does not hide a healthy present.
 */
import { Context, Effect, Layer, Ref, Schedule } from "effect"
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from "node:perf_hooks"
import type { ProcessStats } from "../schemas/control.ts"

/** Long enough for a stable p99, short enough to be current at every scrape. */
const WINDOW = "5 seconds"
const NS_PER_MS = 1e6
/** The histogram records whole timer intervals: an idle loop reads as the resolution, so that is subtracted. */
const RESOLUTION_MS = 10
const delayMs = (ns: number) => Math.max(0, ns / NS_PER_MS - RESOLUTION_MS)

interface Window {
  readonly p50Ms: number
  readonly p99Ms: number
  readonly utilization: number
}

export interface ProcessSamplerShape {
  readonly sample: Effect.Effect<ProcessStats>
}

export class ProcessSampler extends Context.Tag("kernel/ProcessSampler")<ProcessSampler, ProcessSamplerShape>() {}

/** `name` labels the process in metrics: kernel, dashboard, exechost. */
export const processSamplerLayer = (name: string) =>
  Layer.scoped(
    ProcessSampler,
    Effect.gen(function* () {
      const histogram = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
          h.enable()
          return h
        }),
        (h) => Effect.sync(() => h.disable())
      )
      let mark: EventLoopUtilization = performance.eventLoopUtilization()
      const measure = Effect.sync((): Window => {
        const elu = performance.eventLoopUtilization(mark)
        mark = performance.eventLoopUtilization()
        const window = {
          p50Ms: histogram.count > 0 ? delayMs(histogram.percentile(50)) : 0,
          p99Ms: histogram.count > 0 ? delayMs(histogram.percentile(99)) : 0,
          utilization: elu.utilization
        }
        histogram.reset()
        return window
      })
      const last = yield* Ref.make<Window>({ p50Ms: 0, p99Ms: 0, utilization: 0 })
      yield* measure.pipe(
        Effect.flatMap((w) => Ref.set(last, w)),
        Effect.repeat(Schedule.spaced(WINDOW)),
        Effect.delay(WINDOW),
        Effect.forkScoped
      )
      return {
        sample: Effect.map(Ref.get(last), (w) => {
          const memory = process.memoryUsage()
          return {
            process: name,
            pid: process.pid,
            rssBytes: memory.rss,
            heapUsedBytes: memory.heapUsed,
            heapTotalBytes: memory.heapTotal,
            eventLoopDelayP50Ms: w.p50Ms,
            eventLoopDelayP99Ms: w.p99Ms,
            eventLoopUtilization: w.utilization
          }
        })
      }
    })
  )
