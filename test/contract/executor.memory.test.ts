/** The in-memory execution host (kernel/replay/simHost.ts) against the Executor contract. */
import { Context, Duration, Effect, Layer } from "effect"
import { Executor, type PipelineSpec } from "../../kernel/ports/executor.ts"
import { type SimOutcome, SimHost, simHostLayer } from "../../kernel/replay/simHost.ts"
import { type Behaviour, executorContract } from "./executor.contract.ts"

const outcomeOf = (b: Behaviour): SimOutcome =>
  "hang" in b
    ? { _tag: "Hang" }
    : { _tag: "Exit", code: b.exit, after: Duration.millis(b.afterMs), ...("errorMessage" in b ? { errorMessage: b.errorMessage } : {}) }

executorContract(
  "in-memory host",
  Effect.gen(function* () {
    // The host outlives its clients: it is built once per test, each connect is a new view of it.
    const host = yield* Layer.build(simHostLayer)
    const sim = Context.get(host, SimHost)
    return {
      connect: Effect.succeed(Context.get(host, Executor)),
      pipeline: (runId: number, behaviour: Behaviour) =>
        Effect.gen(function* () {
          const docId = `doc-${runId}`
          yield* sim.append(docId, [outcomeOf(behaviour)])
          const spec: PipelineSpec = {
            runId,
            docId,
            patientId: "P1",
            service: "Epi-Insight",
            attempt: 1,
            script: "run_epi_insight.sh",
            env: {},
            logFile: `/nonexistent/run.log.1`
          }
          return spec
        })
    }
  }),
  { timeout: "5 seconds" }
)
