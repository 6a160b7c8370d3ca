/**
 * The kernel's Effect scheduler: fibers run in microtasks for at most a
 * time slice, then Node's event loop gets a turn (setImmediate: after the
 * loop has polled sockets, and without setTimeout's 1 ms floor).
 *
 * Why not Effect's MixedScheduler(n): it counts rounds per fiber, not time,
 * and the event loop only gets a turn once every runnable fiber has used its
 * n rounds of up to 2,048 steps each. In a burst of arrivals that was
 * hundreds of milliseconds without reading a socket or firing a timer
 * (event-loop delay p99 70 to 90 ms in test/bench/throughput.bench.ts). A
 * slice bounds it by time, whatever the number of fibers.
 *
 * The slice is measured with performance.now(): it decides only when the
 * event loop gets a turn, never what the kernel does or records, so it is
 * not the business time that must come from Effect's Clock.
 */
import { FiberRef, Scheduler } from "effect"
import type { RuntimeFiber } from "effect/Fiber"
import { performance } from "node:perf_hooks"

export class TimeSlicedScheduler implements Scheduler.Scheduler {
  private tasks = new Scheduler.PriorityBuckets()
  private running = false
  private sliceStart = 0

  constructor(private readonly sliceMs: number) {}

  shouldYield(fiber: RuntimeFiber<unknown, unknown>): number | false {
    return fiber.currentOpCount > fiber.getFiberRef(FiberRef.currentMaxOpsBeforeYield)
      ? fiber.getFiberRef(FiberRef.currentSchedulingPriority)
      : false
  }

  scheduleTask(task: Scheduler.Task, priority: number): void {
    this.tasks.scheduleTask(task, priority)
    if (this.running) return
    this.running = true
    this.sliceStart = performance.now()
    queueMicrotask(this.drain)
  }

  private readonly drain = (): void => {
    const buckets = this.tasks.buckets
    this.tasks.buckets = []
    for (const [, toRun] of buckets) {
      for (const task of toRun) task()
    }
    if (this.tasks.buckets.length === 0) {
      this.running = false
    } else if (performance.now() - this.sliceStart < this.sliceMs) {
      queueMicrotask(this.drain)
    } else {
      setImmediate(this.nextSlice)
    }
  }

  private readonly nextSlice = (): void => {
    this.sliceStart = performance.now()
    this.drain()
  }
}
