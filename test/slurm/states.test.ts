/** How a Slurm job's end is routed (kernel/process/slurm/states.ts), written from the mapping. */
import { describe, expect, it } from "vitest"
import type { RecordedExit } from "../../schemas/slurm.ts"
import { exitOf, isActiveState, parseExitCode } from "../../kernel/process/slurm/states.ts"

const recorded = (over: Partial<RecordedExit>): RecordedExit => ({
  code: 0,
  signal: null,
  host: "node1",
  finishedAt: "2026-01-01T00:00:00.000Z",
  ...over
})

describe("Slurm job states", () => {
  it("PENDING, RUNNING and COMPLETING are still active; the end states are not", () => {
    for (const s of ["PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED"]) expect(isActiveState(s)).toBe(true)
    for (const s of ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED"]) {
      expect(isActiveState(s)).toBe(false)
    }
  })

  it("COMPLETED and FAILED are routed by the pipeline's recorded code, sandbox verdict included", () => {
    expect(exitOf({ jobId: "7", state: "COMPLETED", recorded: recorded({ code: 0 }) })).toEqual({ code: 0, signal: null })
    expect(exitOf({ jobId: "7", state: "FAILED", recorded: recorded({ code: 75 }) })).toEqual({ code: 75, signal: null })
    expect(exitOf({ jobId: "7", state: "FAILED", recorded: recorded({ code: 1, errorMessage: "sandbox commit refused: /etc/x" }) })).toEqual({
      code: 1,
      signal: null,
      errorMessage: "sandbox commit refused: /etc/x"
    })
  })

  it("without an exit file, the controller's ExitCode=<code>:<signal> is used", () => {
    expect(exitOf({ jobId: "7", state: "FAILED", exitCode: "3:0", recorded: undefined })).toEqual({ code: 3, signal: null })
    expect(exitOf({ jobId: "7", state: "FAILED", exitCode: "0:9", recorded: undefined })).toEqual({ code: null, signal: "SIGKILL" })
    expect(parseExitCode("garbage")).toBeUndefined()
    expect(exitOf({ jobId: "7", state: "FAILED", exitCode: "garbage", recorded: undefined })).toBeUndefined()
  })

  it("TIMEOUT, NODE_FAIL and OUT_OF_MEMORY are attempt failures with a clear error message, whatever the code", () => {
    const signalled = recorded({ code: null, signal: "SIGTERM", signalledBy: "SIGTERM" })
    expect(exitOf({ jobId: "41", state: "TIMEOUT", recorded: signalled })).toEqual({
      code: null,
      signal: "SIGTERM",
      errorMessage: "Slurm job 41 reached its time limit (TIMEOUT)"
    })
    expect(exitOf({ jobId: "42", state: "NODE_FAIL", recorded: undefined })).toEqual({
      code: null,
      signal: null,
      errorMessage: "Slurm job 42 failed with its compute node (NODE_FAIL)"
    })
    expect(exitOf({ jobId: "43", state: "OUT_OF_MEMORY", recorded: recorded({ code: 0 }) })).toEqual({
      code: 0,
      signal: null,
      errorMessage: "Slurm job 43 ran out of memory (OUT_OF_MEMORY)"
    })
  })

  it("a signalled run the controller has forgotten says it was ended from outside", () => {
    expect(exitOf({ jobId: "44", state: undefined, recorded: recorded({ code: null, signal: "SIGTERM", signalledBy: "SIGTERM" }) })).toEqual({
      code: null,
      signal: "SIGTERM",
      errorMessage: "Slurm job 44 was ended by SIGTERM (scancel, time limit or node shutdown)"
    })
  })

  it("nothing known at all is undefined (the executor calls that Lost)", () => {
    expect(exitOf({ jobId: "45", state: undefined, recorded: undefined })).toBeUndefined()
  })
})
