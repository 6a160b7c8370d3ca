/**
 * Execution-host chaos (seeded; the seed is printed; CHAOS_SEED=n reruns it):
 * random pipelines (exit 0 / failure / temp-fail after a random time, or a
 * hang ended by a kill) while the host process is SIGKILLed and restarted
 * CHAOS_HOST_KILLS times (default 6). Then, from the host's answers and the
 * pipelines' own logs: every run reported exactly its own outcome, none Lost
 * (monitors outlive the host), each pipeline executed once, and no monitor,
 * pipeline or run record is left once every run is acknowledged.
 * The kernel-level chaos of issue 11 (SIGKILLs of the kernel, Firestore
 * invariants) is not here.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Duration, Effect, Exit, Schedule, Scope } from "effect"
import { ExecutorUnavailable, type ExecutorShape } from "../../kernel/ports/executor.ts"
import { clientOf, control, hostProcess, isLive, liveMatching, specFor, tempRoot, writeConfig, type HostProcess } from "../exechost/support.ts"

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const SEED = Number(process.env.CHAOS_SEED ?? String(Date.now() % 1_000_000_007))
const HOST_KILLS = Number(process.env.CHAOS_HOST_KILLS ?? "6")
const RUNS_PER_ROUND = 4

/** mulberry32: small, seedable, good enough to pick behaviours. */
const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Plan = { readonly runId: number; readonly kind: "exit"; readonly code: number; readonly afterMs: number } | { readonly runId: number; readonly kind: "hang" }

describe("execution host chaos", () => {
  it.scopedLive(
    `seed ${SEED}: ${HOST_KILLS} host SIGKILLs among random pipelines; every outcome kept once, nothing left`,
    () =>
      Effect.gen(function* () {
        process.stdout.write(`exechost chaos seed ${SEED} (CHAOS_SEED=${SEED} to rerun)\n`)
        const random = prng(SEED)
        const t = yield* tempRoot
        const ctl = control(t)
        const configFile = join(t.root, "config.json")
        yield* writeConfig(t.config, configFile)
        execFileSync(process.execPath, [join(ROOT, "scripts", "build.mjs"), "kernel/exechost/main.ts"], { cwd: ROOT, stdio: "ignore" })
        const bundle = [join(ROOT, "dist", "kernel", "exechost", "main.js")]
        let scope = yield* Scope.make()
        let host: HostProcess = yield* hostProcess(configFile, t.config.dataDir, bundle).pipe(Scope.extend(scope))
        const client: ExecutorShape = yield* clientOf(t.config)
        // As the kernel does: a call the host cannot answer now is asked again.
        const retry = <A, E>(call: Effect.Effect<A, E | ExecutorUnavailable>) =>
          Effect.retry(call, { while: (e) => e instanceof ExecutorUnavailable, schedule: Schedule.spaced("100 millis") })
        const plans: Array<Plan> = []
        let nextRun = 1000
        for (let round = 0; round < HOST_KILLS; round++) {
          for (let i = 0; i < RUNS_PER_ROUND; i++) {
            const runId = nextRun++
            const doc = `doc-${runId}`
            ctl.gate(doc)
            const plan: Plan =
              random() < 0.2 ? { runId, kind: "hang" } : { runId, kind: "exit", code: [0, 0, 1, 75][Math.floor(random() * 4)] ?? 0, afterMs: Math.floor(random() * 1500) }
            if (plan.kind === "exit") {
              ctl.exitWith(doc, plan.code)
              yield* Effect.forkDaemon(Effect.delay(Effect.sync(() => ctl.open(doc)), Duration.millis(plan.afterMs)))
            }
            plans.push(plan)
            yield* retry(client.start(specFor(t, runId)))
          }
          yield* Effect.sleep(Duration.millis(Math.floor(random() * 800)))
          host.kill("SIGKILL")
          const dead = host.pid
          while (isLive(dead)) yield* Effect.sleep("20 millis")
          yield* Scope.close(scope, Exit.void)
          scope = yield* Scope.make()
          host = yield* hostProcess(configFile, t.config.dataDir, bundle).pipe(Scope.extend(scope))
        }
        for (const plan of plans) if (plan.kind === "hang") yield* retry(client.kill(plan.runId, Duration.millis(200)))
        for (const plan of plans) {
          const ended = yield* retry(client.awaitExit(plan.runId)).pipe(Effect.timeout("120 seconds"))
          const seen = ended._tag === "Exited" ? (ended.exit.code ?? ended.exit.signal) : `Lost: ${ended.message}`
          expect([plan.runId, seen]).toEqual([plan.runId, plan.kind === "exit" ? plan.code : "SIGTERM"])
          const log = readFileSync(specFor(t, plan.runId).logFile, "utf8")
          expect([plan.runId, log.split("\n").filter((l) => l.startsWith("pipeline start")).length]).toEqual([plan.runId, 1])
          yield* retry(client.acknowledge(plan.runId))
        }
        const runs = join(t.config.dataDir, "exechost", "runs")
        expect(existsSync(runs) ? readdirSync(runs) : []).toEqual([])
        expect(liveMatching(`${t.root}/bin/pipeline.sh`)).toEqual([])
        expect(liveMatching(`${runs}/`)).toEqual([])
        yield* Scope.close(scope, Exit.void)
      }),
    900_000
  )
})
