/** The real execution host (in-process host, real monitors and pipelines) against the Executor contract. */
import { Duration, Effect } from "effect"
import { executorContract, type Behaviour } from "../contract/executor.contract.ts"
import { clientOf, control, inProcessHost, specFor, tempRoot } from "./support.ts"

executorContract(
  "execution host",
  Effect.gen(function* () {
    const t = yield* tempRoot
    const config = t.config
    yield* inProcessHost(config)
    const ctl = control(t)
    return {
      connect: clientOf(config),
      pipeline: (runId: number, behaviour: Behaviour) =>
        Effect.gen(function* () {
          const docId = `doc-${runId}`
          ctl.gate(docId)
          if (!("hang" in behaviour)) {
            ctl.exitWith(docId, behaviour.exit)
            yield* Effect.forkDaemon(Effect.delay(Effect.sync(() => ctl.open(docId)), Duration.millis(behaviour.afterMs)))
          }
          return specFor(t, runId, "errorMessage" in behaviour ? { LOMI_TEST_ERROR: behaviour.errorMessage } : {})
        })
    }
  }),
  { timeout: "30 seconds" }
)
