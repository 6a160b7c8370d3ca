/**
 * Large replay scenarios for benchmarks: N documents arriving over D days
 * with a fixed mix of outcomes. A seeded generator keeps the same arguments
 * producing the same fixture.
 */
const SERVICES = ["Gen-Decoder", "Epi-Insight", "Omni-Health"] as const

/** mulberry32: small, fast, and deterministic for a given seed. */
const seeded = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface ScenarioOptions {
  readonly documents: number
  readonly days: number
  readonly seed?: number
}

type Outcome = { exit: number; after: string } | { hang: true }

export const generateScenario = ({ documents, days, seed = 1 }: ScenarioOptions) => {
  const random = seeded(seed)
  const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)] as A
  const minutes = (n: number) => `${Math.max(1, Math.round(n))}m`
  const arrivals = Array.from({ length: documents }, () => Math.floor(random() * days * 24 * 60)).sort((a, b) => a - b)
  const steps: Array<Record<string, unknown>> = []
  arrivals.forEach((minute, i) => {
    const id = `doc-${String(i).padStart(6, "0")}`
    const roll = random()
    const runs: Array<Outcome> =
      roll < 0.6
        ? [{ exit: 0, after: minutes(5 + random() * 60) }]
        : roll < 0.75
          ? [{ exit: 1, after: minutes(5) }, { exit: 0, after: minutes(20) }]
          : roll < 0.85
            ? [{ exit: 75, after: minutes(2) }, { exit: 75, after: minutes(2) }, { exit: 0, after: minutes(30) }]
            : [{ exit: 2, after: minutes(3) }, { exit: 2, after: minutes(3) }, { exit: 2, after: minutes(3) }]
    const at = minutes(minute)
    steps.push({ at, outcomes: { doc: id, runs } })
    steps.push({ at, doc: { id, data: { status: "Data Ready", service: pick(SERVICES), patientId: `P${i % 5000}` } } })
  })
  return {
    name: `${documents} documents over ${days} days (seed ${seed})`,
    start: "2026-01-01T00:00:00Z",
    tunables: { MAX_WORKERS: 4, RETRY_DELAY_SECONDS: 1800 },
    steps,
    until: `${days + 3}d`
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [documents = "1000", days = "30", seed = "1"] = process.argv.slice(2)
  process.stdout.write(JSON.stringify(generateScenario({ documents: Number(documents), days: Number(days), seed: Number(seed) }), null, 1) + "\n")
}
