/**
 * What Slurm costs per attempt: 200 short jobs (a pipeline that notes when it
 * started and exits 0) through the Slurm executor on a real single-node
 * cluster (test/slurm/cluster.ts) and through the local execution host
 * (exechost client + host + per-run monitors), same run, same concurrency
 * (like MAX_WORKERS: a worker starts, awaits the exit, acknowledges, takes
 * the next). Unsandboxed in both: the sandbox's own cost is sandbox.bench.ts.
 *
 *   npx tsx test/bench/slurm.bench.ts [--jobs 200] [--concurrency 8] [--poll-ms 500]
 *
 * submit→start: from the executor's `start` call to the pipeline's first
 * line (bash's $EPOCHREALTIME, same clock). Throughput: jobs / wall time of
 * the whole batch, including exit detection (Slurm: one squeue per poll).
 * Needs root (slurmd, munged, a network namespace).
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Logger, LogLevel, type Scope } from "effect"
import type { ExecutorShape, PipelineSpec } from "../../kernel/ports/executor.ts"
import { makeSlurmExecutor } from "../../kernel/process/slurm/executor.ts"
import { clientOf, inProcessHost, tempRoot } from "../exechost/support.ts"
import { startSlurmCluster } from "../slurm/cluster.ts"
import { buildRunner } from "../slurm/runner-build.ts"
import { executorOptions, makeWorld } from "../slurm/support.ts"
import { ms, ratio, table } from "./table.ts"

const argValue = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback
}
const jobs = Number(argValue("--jobs", "200"))
const concurrency = Number(argValue("--concurrency", "8"))
const pollMs = Number(argValue("--poll-ms", "500"))

const progress = (line: string) => process.stderr.write(`[slurm.bench] ${line}\n`)

interface Result {
  readonly latenciesMs: ReadonlyArray<number>
  readonly wallMs: number
  readonly failed: number
}

const percentile = (xs: ReadonlyArray<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN
}

/** A pipeline that writes its start time (µs since the epoch) and exits 0. */
const writeScript = (dir: string): string => {
  const script = join(dir, "bench-pipeline.sh")
  writeFileSync(script, '#!/bin/bash\necho "${EPOCHREALTIME/./}" > "$LOMI_BENCH_STARTED"\nexit 0\n')
  chmodSync(script, 0o755)
  return script
}

const runBatch = (
  label: string,
  executor: ExecutorShape,
  specFor: (i: number) => PipelineSpec
): Effect.Effect<Result> =>
  Effect.gen(function* () {
    const latencies: Array<number> = []
    let failed = 0
    let next = 0
    const t0 = performance.now()
    const worker = Effect.gen(function* () {
      for (;;) {
        const i = next++
        if (i >= jobs) return
        const spec = specFor(i)
        const submitted = Date.now() * 1000
        const started = yield* Effect.either(executor.start(spec))
        if (started._tag === "Left") {
          failed += 1
          continue
        }
        const ended = yield* Effect.either(executor.awaitExit(spec.runId))
        yield* Effect.ignore(executor.acknowledge(spec.runId))
        if (ended._tag === "Left" || ended.right._tag !== "Exited" || ended.right.exit.code !== 0) failed += 1
        const startedAt = Number(readFileSync(spec.env["LOMI_BENCH_STARTED"] ?? "", "utf8").trim() || NaN)
        latencies.push((startedAt - submitted) / 1000)
        if ((i + 1) % 50 === 0) progress(`${label}: ${i + 1}/${jobs}`)
      }
    })
    yield* Effect.all(Array.from({ length: concurrency }, () => worker), { concurrency: "unbounded" })
    return { latenciesMs: latencies, wallMs: performance.now() - t0, failed }
  })

const localBatch = (script: string, marks: string): Effect.Effect<Result, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const root = yield* tempRoot
    yield* inProcessHost(root.config)
    const client = yield* clientOf(root.config)
    return yield* runBatch("local", client, (i) => spec(i + 1, script, marks, root.config.dataDir))
  })

const spec = (runId: number, script: string, marks: string, dataDir: string): PipelineSpec => ({
  runId,
  docId: `bench-${runId}`,
  patientId: "P-BENCH",
  service: "Epi-Insight",
  attempt: 1,
  script,
  env: { LOMI_BENCH_STARTED: join(marks, `started-${runId}`) },
  logFile: join(dataDir, "logs", `bench-${runId}`, `run-${runId}`, "run.log.1")
})

const main = async () => {
  const scratch = mkdtempSync(join(tmpdir(), "lomi-slurm-bench-"))
  const script = writeScript(scratch)
  const marks = join(scratch, "marks")
  mkdirSync(marks, { recursive: true })
  progress("starting the single-node cluster and building the attempt runner")
  const [cluster, runner] = await Promise.all([startSlurmCluster(), buildRunner("kernel/process/slurm/run-attempt.ts", scratch)])
  const world = makeWorld(runner)
  try {
    progress(`local execution host: ${jobs} jobs, ${concurrency} at a time`)
    const local = await Effect.runPromise(Effect.scoped(localBatch(script, join(marks)).pipe(Logger.withMinimumLogLevel(LogLevel.Warning))))
    progress(`Slurm: ${jobs} jobs, ${concurrency} at a time, poll every ${pollMs} ms`)
    const options = executorOptions(cluster, world)
    const slurm = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const executor = yield* makeSlurmExecutor({ ...options, slurm: { ...options.slurm, pollIntervalMs: pollMs, commandTimeoutMs: 30_000 } })
          return yield* runBatch("slurm", executor, (i) => spec(10_000 + i, script, marks, world.dataDir))
        })
      ).pipe(Logger.withMinimumLogLevel(LogLevel.Warning))
    )
    const row = (label: string, r: Result) => [
      label,
      jobs,
      r.failed,
      ms(percentile(r.latenciesMs, 50)),
      ms(percentile(r.latenciesMs, 90)),
      ms(Math.max(...r.latenciesMs)),
      (r.wallMs / 1000).toFixed(1),
      (jobs / (r.wallMs / 1000)).toFixed(2),
      ratio(percentile(r.latenciesMs, 50), percentile(local.latenciesMs, 50)),
      ratio(jobs / (r.wallMs / 1000), jobs / (local.wallMs / 1000))
    ]
    process.stdout.write(
      `\n${jobs} short jobs, ${concurrency} at a time, unsandboxed; Slurm polled every ${pollMs} ms (single node, same machine)\n\n` +
        table(
          ["executor", "jobs", "failed", "submit→start p50 ms", "p90 ms", "max ms", "wall s", "jobs/s", "p50 vs local", "jobs/s vs local"],
          [row("local execution host", local), row("Slurm", slurm)]
        ) +
        "\n"
    )
    if (local.failed + slurm.failed > 0) process.exitCode = 1
  } finally {
    await cluster.stop()
    world.cleanup()
    rmSync(scratch, { recursive: true, force: true })
  }
}

// Exits once the table is out: the esbuild service (the attempt runner's build) and the host client's
// sockets would otherwise keep the process, and `make bench` after it, waiting.
main().then(() => process.exit(process.exitCode ?? 0), (error: unknown) => {
  process.stderr.write(`slurm.bench: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exit(1)
})
