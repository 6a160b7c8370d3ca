/**
 * The pipelines running right now, one supervised fiber per run. The worker
 * supervisor starts them; the kill handler stops them. Stopping interrupts
 * the fiber, which closes its scope, which ends the process group.
 */
import { Effect, FiberMap } from "effect"

export class RunRegistry extends Effect.Service<RunRegistry>()("kernel/RunRegistry", {
  scoped: Effect.gen(function* () {
    const fibers = yield* FiberMap.make<number>()
    return {
      run: <E>(runId: number, work: Effect.Effect<void, E>) => FiberMap.run(fibers, runId, work),
      stop: (runId: number) => FiberMap.remove(fibers, runId),
      isRunning: (runId: number) => FiberMap.has(fibers, runId),
      size: FiberMap.size(fibers)
    }
  })
}) {}
