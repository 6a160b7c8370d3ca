/**
 * A simulated process port for replays and fast tests: each start takes the
 * document's next scripted outcome (exit code after a duration, or hang until
 * stopped). It writes no files and spawns nothing; time passes on the Clock.
 */
import { Context, Duration, Effect, Layer, Ref } from "effect"
import { ProcessPort, type ProcessPortShape } from "../ports/process.ts"

export type SimOutcome =
  | { readonly _tag: "Exit"; readonly code: number; readonly after: Duration.Duration }
  | { readonly _tag: "Hang" }

export const DEFAULT_OUTCOME: SimOutcome = { _tag: "Exit", code: 0, after: Duration.minutes(1) }

export interface SimScriptShape {
  readonly append: (docId: string, outcomes: ReadonlyArray<SimOutcome>) => Effect.Effect<void>
}

export class SimScript extends Context.Tag("kernel/replay/SimScript")<SimScript, SimScriptShape>() {}

export const simProcessLayer: Layer.Layer<ProcessPort | SimScript> = Layer.effectContext(
  Effect.gen(function* () {
    const scripts = yield* Ref.make<ReadonlyMap<string, ReadonlyArray<SimOutcome>>>(new Map())
    const takeNext = (docId: string) =>
      Ref.modify(scripts, (m): [SimOutcome, ReadonlyMap<string, ReadonlyArray<SimOutcome>>] => {
        const [next, ...rest] = m.get(docId) ?? []
        return [next ?? DEFAULT_OUTCOME, new Map([...m, [docId, rest]])]
      })
    const port: ProcessPortShape = {
      start: (spec) =>
        Effect.map(takeNext(spec.docId), (outcome) => ({
          pid: undefined,
          exit:
            outcome._tag === "Hang"
              ? Effect.never
              : Effect.sleep(outcome.after).pipe(Effect.as({ code: outcome.code, signal: null }))
        })),
      sweepStale: Effect.succeed(0)
    }
    const script: SimScriptShape = {
      append: (docId, outcomes) => Ref.update(scripts, (m) => new Map([...m, [docId, [...(m.get(docId) ?? []), ...outcomes]]]))
    }
    return Context.make(ProcessPort, port).pipe(Context.add(SimScript, script))
  })
)
