/**
 * Kernel restarts with the real execution host (its own process) and real
 * pipelines: rule 10 as amended. Kernels are processes SIGKILLed or
 * SIGTERMed mid-run; the last one runs in this process to read the outcome.
 * (Firestore is in memory per kernel; each kernel sees the same Data Ready report.)
 */
import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { Executor } from "../../kernel/ports/executor.ts"
import { hostProcess, writeConfig } from "../exechost/support.ts"
import { following, startKernel } from "./restart-kernel.ts"
import { control, eventually, execute, integrationConfig, isLive, quiet, rowsFor, runLog, tempRoot, type TestRoot, waitForRows } from "./support.ts"

const KERNEL = fileURLToPath(new URL("./restart-kernel.ts", import.meta.url))
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url))

/** A kernel process; resolves with its run id once it follows `docId`'s pipeline. */
const kernelProcess = (t: TestRoot, docId: string, configFile: string) =>
  Effect.gen(function* () {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(process.execPath, ["--import", "tsx", KERNEL, t.root, docId, configFile], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] })),
      (c) => Effect.sync(() => c.exitCode === null && c.signalCode === null && c.kill("SIGKILL"))
    )
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    let output = ""
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8")
    })
    const runId = yield* eventually(
      "the kernel to follow the pipeline",
      Effect.sync(() => /FOLLOWING (\d+)/.exec(output)?.[1] ?? (child.exitCode !== null ? "exited" : false)),
      { timeoutMs: 240_000 }
    )
    if (runId === "exited") return yield* Effect.dieMessage(`the kernel exited early:\n${output}`)
    const stop = (signal: NodeJS.Signals) => Effect.sync(() => child.kill(signal)).pipe(Effect.zipRight(Effect.promise(() => exited)))
    return { runId: Number(runId), stop }
  })

const setUp = Effect.gen(function* () {
  const t = yield* tempRoot
  const config = integrationConfig(t)
  const configFile = join(t.root, "config.json")
  yield* writeConfig(config, configFile)
  const host = yield* hostProcess(configFile, config.dataDir)
  return { t, config, configFile, host, ctl: control(t) }
})

const startLines = (log: string) => log.split("\n").filter((l) => l.startsWith("pipeline start")).length

describe("kernel restarts on the execution host", () => {
  it.scopedLive(
    "a running pipeline survives three kernel SIGKILLs and one SIGTERM; it is recorded once, succeeded at attempt 1",
    () =>
      quiet(
        Effect.gen(function* () {
          const { t, configFile, ctl } = yield* setUp
          ctl.gate("r-1")
          ctl.exitWith("r-1", 0)
          const runIds: Array<number> = []
          let pipelinePid: number | undefined
          for (const signal of ["SIGKILL", "SIGKILL", "SIGKILL", "SIGTERM"] as const) {
            const kernel = yield* kernelProcess(t, "r-1", configFile)
            runIds.push(kernel.runId)
            pipelinePid ??= ctl.pid("r-1", 1)
            yield* kernel.stop(signal)
            expect(pipelinePid !== undefined && isLive(pipelinePid)).toBe(true)
          }
          expect(new Set(runIds).size).toBe(1)
          const { config, run } = yield* startKernel(t, "r-1", configFile)
          ctl.open("r-1")
          const rows = yield* run(waitForRows("r-1", "succeeded", (r) => r.at(-1)?.state === "succeeded", { timeoutMs: 120_000 }))
          expect(rows.map((r) => [r.id, r.attempt, r.state, r.exit_code])).toEqual([[runIds[0], 1, "succeeded", 0]])
          const row = rows[0]
          expect(row === undefined ? "" : startLines(runLog(config, row))).toBe(1)
        })
      ),
    900_000
  )

  it.scopedLive("a pipeline that exits while the kernel is down is routed with its real exit code", () =>
    quiet(
      Effect.gen(function* () {
        const { t, configFile, ctl } = yield* setUp
        ctl.gate("r-2")
        ctl.exitWith("r-2", 3)
        const kernel = yield* kernelProcess(t, "r-2", configFile)
        yield* kernel.stop("SIGKILL")
        ctl.open("r-2")
        const exitFile = join(integrationConfig(t).dataDir, "exechost", "runs", String(kernel.runId), "exit")
        yield* eventually("the exit recorded while the kernel is down", Effect.sync(() => existsSync(exitFile)), { timeoutMs: 60_000 })
        expect(JSON.parse(readFileSync(exitFile, "utf8"))).toEqual({ code: 3, signal: null, timedOut: false })
        const { run } = yield* startKernel(t, "r-2", configFile)
        const rows = yield* run(
          waitForRows("r-2", "attempt 1 ended", (r) => r.some((x) => x.id === kernel.runId && x.state !== "running"), { timeoutMs: 120_000 })
        )
        const first = rows.find((r) => r.id === kernel.runId)
        expect(first?.attempt).toBe(1)
        expect(first?.exit_code).toBe(3)
        expect(first?.notes).not.toBe("recovered")
        // Its one run: the exit was routed, not taken for a crash.
        expect(first === undefined ? "" : startLines(runLog(integrationConfig(t), first))).toBe(1)
        yield* run(rowsFor("r-2"))
      })
    ),
    600_000
  )

  it.scopedLive("the execution host SIGKILLed mid-run: the pipeline keeps running, a new host adopts it, the kernel routes its exit", () =>
    quiet(
      Effect.gen(function* () {
        const { t, config, configFile, host, ctl } = yield* setUp
        ctl.gate("r-3")
        ctl.exitWith("r-3", 0)
        const { run } = yield* startKernel(t, "r-3", configFile)
        const runId = yield* run(following("r-3"))
        const pipeline = ctl.pid("r-3", 1)
        host.kill("SIGKILL")
        yield* eventually("the host to die", Effect.sync(() => !isLive(host.pid)))
        expect(pipeline !== undefined && isLive(pipeline)).toBe(true)
        // As systemd's Restart=always would: a new host, which adopts the live monitor.
        yield* hostProcess(configFile, config.dataDir)
        ctl.open("r-3")
        const rows = yield* run(waitForRows("r-3", "succeeded", (r) => r.at(-1)?.state === "succeeded", { timeoutMs: 120_000 }))
        expect(rows.map((r) => [r.id, r.attempt, r.state, r.exit_code])).toEqual([[runId, 1, "succeeded", 0]])
      })
    ),
    600_000
  )

  it.scopedLive("kill from the dashboard while the kernel restarts ends the adopted pipeline; nothing runs again", () =>
    quiet(
      Effect.gen(function* () {
        const { t, configFile, ctl } = yield* setUp
        ctl.gate("r-4")
        const kernel = yield* kernelProcess(t, "r-4", configFile)
        const pipeline = ctl.pid("r-4", 1)
        yield* kernel.stop("SIGKILL")
        expect(pipeline !== undefined && isLive(pipeline)).toBe(true)
        // The operator's kill arrives as soon as the next kernel takes commands, while it recovers.
        const { run } = yield* startKernel(t, "r-4", configFile)
        const answer = yield* run(execute({ _tag: "kill", doc: "r-4" }))
        expect(answer.ok).toBe(true)
        yield* eventually("the pipeline to be gone", Effect.sync(() => pipeline !== undefined && !isLive(pipeline)), { timeoutMs: 60_000 })
        const rows = yield* run(waitForRows("r-4", "killed", (r) => r.at(-1)?.state === "failed_permanent", { timeoutMs: 60_000 }))
        expect(rows.map((r) => [r.id, r.attempt, r.state])).toEqual([[kernel.runId, 1, "failed_permanent"]])
        const executor = yield* run(Executor)
        yield* eventually("nothing live on the host", Effect.map(Effect.orElseSucceed(executor.live, () => [{}]), (l) => l.length === 0), { timeoutMs: 60_000 })
      })
    ),
    600_000
  )
})
