/**
 * Fuzzing parameters: `make fuzz` runs long (LOMI_FUZZ_RUNS, default 500 there), `make test`
 * a short run. The seed is printed so a failure can be replayed: `make fuzz SEED=<n>`.
 */
const fromEnv = (name: string): number | undefined => {
  const text = process.env[name]
  if (text === undefined || text === "") return undefined
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : undefined
}

export const FUZZ_SEED = fromEnv("LOMI_FUZZ_SEED") ?? Math.floor(Math.random() * 2 ** 31)
/** LOMI_FUZZ_RUNS (set by `make fuzz`) overrides every property's own short-run count. */
export const FUZZ_RUNS = fromEnv("LOMI_FUZZ_RUNS")

process.stderr.write(
  `fuzz seed ${FUZZ_SEED} (replay: make fuzz SEED=${FUZZ_SEED}), ${FUZZ_RUNS ?? "the short run's"} runs per property\n`
)

export const fuzzParameters = (shortRun: number) => ({ seed: FUZZ_SEED, numRuns: FUZZ_RUNS ?? shortRun, endOnFailure: true })

/** A refusal an operator can read: one line, at most 200 characters. */
export const isOneShortLine = (message: string) => message.length > 0 && message.length <= 200 && !/[\r\n]/.test(message)
