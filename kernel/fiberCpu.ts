/**
 * A diagnostic, off unless LOMI_FIBER_CPU names a file: the process's CPU
 * time split by which fiber spent it, keyed by the fiber's `actor` log
 * annotation (plus `/run` or `/doc` inside one attempt or one document).
 * It reads process.cpuUsage() each time a fiber resumes and suspends, and
 * writes a JSON table to `<file>.<pid>` when the process exits; whatever is not
 * in a fiber (socket and gRPC callbacks, garbage collection between fibers)
 * is the process total minus the sum. kernel/README.md's table of where the
 * CPU per job goes was made with it.
 *
 * It measures; it never decides anything, so it reads the process's CPU
 * clock directly rather than Effect's Clock.
 */
import { Effect, type Fiber, FiberRef, HashMap, Option, Supervisor } from "effect"
import { writeFileSync } from "node:fs"

const cpuMicros = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}

const keyOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>) => {
  const annotations = fiber.getFiberRef(FiberRef.currentLogAnnotations)
  const actor = Option.getOrElse(Option.map(HashMap.get(annotations, "actor"), String), () => "(no actor)")
  if (Option.isSome(HashMap.get(annotations, "run"))) return `${actor}/run`
  if (Option.isSome(HashMap.get(annotations, "doc"))) return `${actor}/doc`
  return actor
}

class FiberCpuSupervisor extends Supervisor.AbstractSupervisor<void> {
  readonly value = Effect.void
  readonly micros = new Map<string, number>()
  readonly resumes = new Map<string, number>()
  private running: { readonly key: string; readonly since: number } | undefined

  override onResume(fiber: Fiber.RuntimeFiber<unknown, unknown>): void {
    const key = keyOf(fiber)
    this.running = { key, since: cpuMicros() }
    this.resumes.set(key, (this.resumes.get(key) ?? 0) + 1)
  }

  override onSuspend(): void {
    if (this.running === undefined) return
    const { key, since } = this.running
    this.micros.set(key, (this.micros.get(key) ?? 0) + cpuMicros() - since)
    this.running = undefined
  }
}

/** `program` as it is, or measured per fiber when LOMI_FIBER_CPU is set. */
export const withFiberCpu = <A, E, R>(program: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const file = process.env.LOMI_FIBER_CPU
  if (file === undefined || file === "") return program
  const supervisor = new FiberCpuSupervisor()
  const startedAt = cpuMicros()
  process.once("exit", () => {
    const byFiber = Object.fromEntries(
      [...supervisor.micros].sort((a, b) => b[1] - a[1]).map(([key, micros]) => [key, { micros, resumes: supervisor.resumes.get(key) ?? 0 }])
    )
    writeFileSync(`${file}.${process.pid}`, JSON.stringify({ processMicros: cpuMicros() - startedAt, byFiber }, null, 1))
  })
  return Effect.supervised(program, supervisor)
}
