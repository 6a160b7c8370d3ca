/**
 * The Executor contract (kernel/ports/executor.ts): one suite that every
 * implementation must pass: the in-memory host used by replays
 * (test/contract/executor.memory.test.ts) and the real execution host's
 * client. Nothing above the port may tell them apart.
 *
 * Each test gets a fresh backend: a host, and a way to connect clients to it.
 * A client is what one kernel holds; a second client of the same host is the
 * kernel after a restart. Runs are driven by what their spec asks for (exit
 * code, duration, hang, an executor-level failure); how a backend makes a
 * pipeline do that is its own business.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, type Scope } from "effect"
import type { ExecutorShape, PipelineExit, PipelineSpec, RunStatus } from "../../kernel/ports/executor.ts"

export type Behaviour =
  | { readonly exit: number; readonly afterMs: number }
  | { readonly hang: true }
  /** The executor itself fails the attempt with `errorMessage` (a refused sandbox commit, a time limit). */
  | { readonly exit: number; readonly afterMs: number; readonly errorMessage: string }

export interface ExecutorBackend {
  /** A new client of this backend's host, alive for the given scope (closing it is the kernel going away). */
  readonly connect: Effect.Effect<ExecutorShape, unknown, Scope.Scope>
  /** A spec for run `runId` whose pipeline behaves as asked. */
  readonly pipeline: (runId: number, behaviour: Behaviour) => Effect.Effect<PipelineSpec, unknown>
}

export interface ExecutorContractOptions {
  /** How long one run may take to be reported; a real host needs real time. */
  readonly timeout?: Duration.DurationInput
}

const exitOf = (status: RunStatus | undefined): PipelineExit | undefined => (status?._tag === "Exited" ? status.exit : undefined)

export const executorContract = (
  name: string,
  backend: Effect.Effect<ExecutorBackend, unknown, Scope.Scope>,
  options: ExecutorContractOptions = {}
) => {
  const timeout = Duration.decode(options.timeout ?? "20 seconds")
  const within = <A, E, R>(what: string, effect: Effect.Effect<A, E, R>) =>
    effect.pipe(Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error(`${what}: nothing within ${Duration.format(timeout)}`) }))
  /** Polls `status` until the run is no longer Running. */
  const settled = (client: ExecutorShape, runId: number) =>
    within(
      `run ${runId} to end`,
      Effect.gen(function* () {
        for (;;) {
          const status = (yield* client.status([runId])).get(runId)
          if (status !== undefined && status._tag !== "Running") return status
          yield* Effect.sleep("20 millis")
        }
      })
    )
  describe(`Executor contract: ${name}`, () => {
    it.scopedLive("start reports Running, and the run's exit comes back with its code", () =>
      Effect.gen(function* () {
        const b = yield* backend
        const client = yield* b.connect
        const started = yield* client.start(yield* b.pipeline(101, { exit: 3, afterMs: 300 }))
        expect(started._tag).toBe("Running")
        const ended = yield* within("awaitExit", client.awaitExit(101))
        expect(ended).toEqual({ _tag: "Exited", exit: expect.objectContaining({ code: 3, signal: null }) })
        expect(exitOf((yield* client.status([101])).get(101))?.code).toBe(3)
      })
    )

    it.scopedLive("exit 0 is reported as code 0 with no error message", () =>
      Effect.gen(function* () {
        const b = yield* backend
        const client = yield* b.connect
        yield* client.start(yield* b.pipeline(102, { exit: 0, afterMs: 50 }))
        const ended = yield* within("awaitExit", client.awaitExit(102))
        expect(ended._tag).toBe("Exited")
        const exit = ended._tag === "Exited" ? ended.exit : undefined
        expect(exit?.code).toBe(0)
        expect(exit?.errorMessage).toBeUndefined()
      })
    )

    it.scopedLive("an executor-level failure reaches the kernel as errorMessage, with the process's code", () =>
      Effect.gen(function* () {
        const b = yield* backend
        const client = yield* b.connect
        yield* client.start(yield* b.pipeline(103, { exit: 0, afterMs: 50, errorMessage: "sandbox commit refused: /etc/passwd" }))
        const ended = yield* within("awaitExit", client.awaitExit(103))
        expect(ended._tag).toBe("Exited")
        expect(ended._tag === "Exited" ? ended.exit.errorMessage : undefined).toBe("sandbox commit refused: /etc/passwd")
      })
    )

    it.scopedLive("kill ends a hanging run: awaitExit returns, the run is no longer live", () =>
      Effect.gen(function* () {
        const b = yield* backend
        const client = yield* b.connect
        yield* client.start(yield* b.pipeline(104, { hang: true }))
        expect((yield* client.live).map((r) => r.runId)).toContain(104)
        const waiting = yield* Effect.fork(client.awaitExit(104))
        yield* within("kill", client.kill(104, Duration.millis(200)))
        const ended = yield* within("awaitExit after kill", waiting.await)
        expect(Exit.isSuccess(ended)).toBe(true)
        const status = Exit.isSuccess(ended) ? ended.value : undefined
        expect(status?._tag).toBe("Exited")
        // Ended by SIGTERM (a shell that forwards it may report 143): never a clean exit.
        const code = status?._tag === "Exited" ? status.exit.code : 0
        expect(code === null || code === 143).toBe(true)
        expect((yield* client.live).map((r) => r.runId)).not.toContain(104)
      })
    )

    it.scopedLive("kill of a run the executor does not know returns at once", () =>
      Effect.gen(function* () {
        const b = yield* backend
        const client = yield* b.connect
        yield* within("kill unknown", client.kill(99_999, Duration.millis(100)))
      })
    )

    it.scopedLive("status of runs never started is Unknown", () =>
      Effect.gen(function* () {
        const b = yield* backend
        const client = yield* b.connect
        const statuses = yield* client.status([98_001, 98_002])
        expect(statuses.get(98_001)).toEqual({ _tag: "Unknown" })
        expect(statuses.get(98_002)).toEqual({ _tag: "Unknown" })
      })
    )

    it.scopedLive("an exit stays reported until acknowledged, also to a new client; then it is Unknown", () =>
      Effect.gen(function* () {
        const b = yield* backend
        const first = yield* b.connect
        yield* first.start(yield* b.pipeline(105, { exit: 4, afterMs: 50 }))
        yield* settled(first, 105)
        const again = yield* b.connect
        expect(exitOf((yield* again.status([105])).get(105))?.code).toBe(4)
        // Reported again, as many times as asked, until acknowledged.
        expect(yield* within("awaitExit on the new client", again.awaitExit(105))).toEqual({
          _tag: "Exited",
          exit: expect.objectContaining({ code: 4 })
        })
        expect(exitOf((yield* first.status([105])).get(105))?.code).toBe(4)
        yield* again.acknowledge(105)
        expect((yield* again.status([105])).get(105)).toEqual({ _tag: "Unknown" })
        expect((yield* first.status([105])).get(105)).toEqual({ _tag: "Unknown" })
      })
    )

    it.scopedLive("a client follows a run started by an earlier client that has gone away", () =>
      Effect.gen(function* () {
        const b = yield* backend
        const earlier = yield* Effect.scoped(
          Effect.gen(function* () {
            const client = yield* b.connect
            yield* client.start(yield* b.pipeline(106, { exit: 7, afterMs: 800 }))
            return (yield* client.status([106])).get(106)?._tag
          })
        )
        expect(earlier).toBe("Running")
        const later = yield* b.connect
        expect((yield* later.status([106])).get(106)?._tag).toBe("Running")
        expect((yield* later.live).map((r) => r.runId)).toContain(106)
        const ended = yield* within("awaitExit of an adopted run", later.awaitExit(106))
        expect(ended).toEqual({ _tag: "Exited", exit: expect.objectContaining({ code: 7 }) })
      })
    )
  })
}
