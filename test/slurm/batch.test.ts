/** What one attempt looks like to sbatch (kernel/process/slurm/batch.ts). */
import { describe, expect, it } from "vitest"
import { batchScript, parseSubmitted, sbatchArgs, shellQuote } from "../../kernel/process/slurm/batch.ts"

const spec = {
  runId: 42,
  docId: "doc-7",
  patientId: "P-1",
  service: "Epi-Insight",
  attempt: 2,
  script: "/pipelines/run_epi.sh",
  env: {},
  logFile: "/shared/data/logs/doc-7/run-42/run.log.2"
}

describe("sbatch arguments", () => {
  it("name the job after run and document, log to the attempt's own file, never requeue, and put extra options last", () => {
    const args = sbatchArgs(
      spec,
      { partition: "genomics", account: "lab", resources: { cpus: 4, memoryMiB: 16384, timeLimitMinutes: 240 }, sbatchOptions: ["--qos=high"] },
      "/shared/data/slurm/run-42/batch.sh",
      "/shared/data/slurm/run-42"
    )
    expect(args).toEqual([
      "--parsable",
      "--no-requeue",
      "--job-name=lomi-42-doc-7",
      "--output=/shared/data/logs/doc-7/run-42/run.log.2",
      "--open-mode=append",
      "--chdir=/shared/data/slurm/run-42",
      "--partition=genomics",
      "--account=lab",
      "--nodes=1",
      "--ntasks=1",
      "--cpus-per-task=4",
      "--mem=16384M",
      "--time=240",
      "--qos=high",
      "/shared/data/slurm/run-42/batch.sh"
    ])
  })

  it("leave --account out when none is configured", () => {
    const args = sbatchArgs(spec, { partition: "p", resources: { cpus: 1, memoryMiB: 1, timeLimitMinutes: 1 }, sbatchOptions: [] }, "/b.sh", "/d")
    expect(args.some((a) => a.startsWith("--account"))).toBe(false)
  })

  it("the batch script hands over to the runner, quoted for bash", () => {
    expect(batchScript(spec, ["/opt/node", "/opt/lomi it's/run-attempt.js"], "/shared/run-42")).toBe(
      "#!/bin/bash\n# lomi-allocator: run 42, document doc-7, Epi-Insight attempt 2\nexec '/opt/node' '/opt/lomi it'\\''s/run-attempt.js' '/shared/run-42'\n"
    )
    expect(shellQuote("a'b")).toBe("'a'\\''b'")
  })

  it("--parsable output: job id, with or without a cluster name; anything else is no id", () => {
    expect(parseSubmitted("1234\n")).toBe("1234")
    expect(parseSubmitted("1234;cluster-a\n")).toBe("1234")
    expect(parseSubmitted("sbatch: error: something\n")).toBeUndefined()
  })
})
