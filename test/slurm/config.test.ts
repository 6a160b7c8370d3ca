/** The `executor` section of the static config: local by default, Slurm with defaults, bad input named in one line. */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { parseConfig } from "../../kernel/config.ts"

const demoDir = fileURLToPath(new URL("../../fixtures/demo/", import.meta.url))
const demo = (): Record<string, unknown> => JSON.parse(readFileSync(join(demoDir, "config.json"), "utf8"))
const parse = (raw: Record<string, unknown>) => parseConfig(JSON.stringify(raw), demoDir, {})
const res = { cpus: 2, memoryMiB: 4096, timeLimitMinutes: 60 }
const slurm = { kind: "slurm", partition: "genomics", services: { "Gen-Decoder": res, "Epi-Insight": res, "Omni-Health": res } }

describe("executor config", () => {
  it("absent means local", () => {
    const parsed = parse(demo())
    expect(Either.isRight(parsed) && parsed.right.executor).toBeUndefined()
  })

  it("slurm takes its defaults: no extra sbatch options, poll every 5 s, 10 s bound on client calls", () => {
    const parsed = parse({ ...demo(), executor: slurm })
    expect(Either.isRight(parsed) && parsed.right.executor).toEqual({
      ...slurm,
      sbatchOptions: [],
      pollIntervalMs: 5000,
      commandTimeoutMs: 10_000
    })
  })

  const problem = (raw: Record<string, unknown>) => {
    const parsed = parse(raw)
    return Either.isLeft(parsed) ? parsed.left.message : "accepted"
  }

  it("a missing partition, a service without resources, a zero CPU count and an unknown kind are refused in one line", () => {
    const { partition: _p, ...noPartition } = slurm
    expect(problem({ ...demo(), executor: noPartition })).toBe("config executor.partition: is missing")
    expect(problem({ ...demo(), executor: { ...slurm, services: { "Gen-Decoder": res, "Epi-Insight": res } } })).toBe(
      "config executor.services.Omni-Health: is missing"
    )
    expect(problem({ ...demo(), executor: { ...slurm, services: { ...slurm.services, "Epi-Insight": { ...res, cpus: 0 } } } })).toBe(
      "config executor.services.Epi-Insight.cpus: Expected a number between 1 and 1024, actual 0"
    )
    expect(problem({ ...demo(), executor: { kind: "kubernetes" } })).toBe('config executor.kind: Expected "local" | "slurm", actual "kubernetes"')
  })
})
