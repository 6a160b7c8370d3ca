/**
 * What the sandbox costs: a no-op pipeline over patient bases of 10 MB and
 * 1 GiB (200 files each), run unsandboxed (plain executor) and sandboxed
 * (bubblewrap executor: hard-link staging, copy-back, scratch removal),
 * against the naive approach of `cp -a` copy-in plus copy-out. All ratios come
 * from the same run. Prints a markdown table.
 *
 *   npx tsx test/bench/sandbox.bench.ts [--runs N] [--dir /var/tmp]
 *
 * Target: the sandbox's added cost for the 1 GiB base is under 10% of cp -a.
 * The generated data lives in a temporary directory that is removed at the end.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Logger, LogLevel } from "effect"
import type { PipelineSpec, ProcessPortShape } from "../../kernel/ports/process.ts"
import { makePlainExecutor } from "../../kernel/process/plain.ts"
import { makeSandboxExecutor, type SandboxExecutorOptions } from "../../kernel/process/sandbox.ts"

const argValue = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback
}
const runs = Number(argValue("--runs", "5"))
const parent = argValue("--dir", "/var/tmp")

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const noop = path.join(repoRoot, "fixtures/pipelines/test/noop.sh")
const MiB = 1024 * 1024

interface Case {
  readonly label: string
  readonly patientId: string
  readonly totalBytes: number
  readonly files: number
}

const cases: ReadonlyArray<Case> = [
  { label: "10 MB", patientId: "P10MB", totalBytes: 10 * 1000 * 1000, files: 200 },
  { label: "1 GiB", patientId: "P1GiB", totalBytes: 1024 * MiB, files: 200 }
]

/** 200 files in 10 sub-directories, sizes summing to `totalBytes`, non-trivial content. */
const generate = (base: string, c: Case) => {
  const dir = path.join(base, c.patientId)
  const per = Math.floor(c.totalBytes / c.files)
  const block = Buffer.alloc(per)
  for (let i = 0; i < per; i += 4) block.writeUInt32LE((i * 2654435761) >>> 0, Math.min(i, per - 4))
  for (let i = 0; i < c.files; i++) {
    const sub = path.join(dir, `lane${i % 10}`)
    mkdirSync(sub, { recursive: true })
    const size = i === c.files - 1 ? c.totalBytes - per * (c.files - 1) : per
    writeFileSync(path.join(sub, `chunk${i}.bin`), size === per ? block : Buffer.alloc(size, 1))
  }
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}

const timeEffect = async (effect: Effect.Effect<unknown, unknown>) => {
  const began = performance.now()
  await Effect.runPromise(Logger.withMinimumLogLevel(effect, LogLevel.Warning))
  return performance.now() - began
}

const mustRun = (command: string, args: ReadonlyArray<string>) => {
  const r = spawnSync(command, [...args], { stdio: ["ignore", "ignore", "inherit"] })
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${r.status ?? r.signal})`)
}

const main = async () => {
  const root = mkdtempSync(path.join(parent, "lomi-sandbox-bench-"))
  const cleanup = () => rmSync(root, { recursive: true, force: true })
  process.on("SIGINT", () => {
    cleanup()
    process.exit(130)
  })
  try {
    const base = path.join(root, "base")
    const user = path.join(root, "user")
    const scratch = path.join(root, "scratch")
    const logs = path.join(root, "logs")
    for (const d of [base, user, scratch, logs, path.join(root, "pipelines"), path.join(root, "home")]) mkdirSync(d, { recursive: true })
    for (const c of cases) generate(base, c)

    const plain = makePlainExecutor({ patientBaseDir: base, userDataDir: user, minicondaBase: "" })
    const sandboxWith = (overrides: Partial<SandboxExecutorOptions>) =>
      makeSandboxExecutor({
        patientBaseDir: base,
        userDataDir: user,
        minicondaBase: "",
        pipelinesRoot: path.join(root, "pipelines"),
        scratchRoot: scratch,
        bwrapPath: "bwrap",
        cacheDir: path.join(root, "cache"),
        home: path.join(root, "home"),
        repoWriteWhitelist: [],
        ...overrides
      })
    // Default staging: files under 1 MiB copied (private to the run), the rest hard-linked.
    const sandbox = sandboxWith({})
    // Pure hard-link farm: what the small-file copies cost.
    const linksOnly = sandboxWith({ copyBelowBytes: 0 })
    let runId = 1
    const spec = (c: Case): PipelineSpec => {
      const id = runId++
      return {
        runId: id,
        docId: `bench-${id}`,
        patientId: c.patientId,
        service: "Epi-Insight",
        attempt: 1,
        script: noop,
        env: {},
        logFile: path.join(logs, `run-${id}.log`)
      }
    }
    const runOnce = (port: ProcessPortShape, c: Case) =>
      Effect.scoped(Effect.flatMap(port.start(spec(c)), (r) => r.exit)).pipe(
        Effect.flatMap((exit) => (exit.code === 0 ? Effect.void : Effect.dieMessage(`no-op exited ${exit.code}`)))
      )
    const cpRound = (c: Case) => {
      const runDir = path.join(scratch, "cp-baseline")
      mkdirSync(runDir, { recursive: true })
      const began = performance.now()
      mustRun("cp", ["-a", path.join(base, c.patientId), runDir])
      mustRun("cp", ["-a", `${path.join(runDir, c.patientId)}/.`, path.join(base, c.patientId)])
      const elapsed = performance.now() - began
      rmSync(runDir, { recursive: true, force: true })
      return elapsed
    }

    const rows: Array<string> = []
    let verdict = true
    const fmt = (ms: number) => ms.toFixed(1)
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`
    for (const c of cases) {
      // One warm-up of each, so page cache and first-spawn costs favour no side.
      await timeEffect(runOnce(plain, c))
      await timeEffect(runOnce(sandbox, c))
      await timeEffect(runOnce(linksOnly, c))
      cpRound(c)
      const t = { plain: [] as Array<number>, sandbox: [] as Array<number>, links: [] as Array<number>, cp: [] as Array<number> }
      // Interleaved, so load on the host hits every variant alike.
      for (let i = 0; i < runs; i++) {
        t.plain.push(await timeEffect(runOnce(plain, c)))
        t.sandbox.push(await timeEffect(runOnce(sandbox, c)))
        t.links.push(await timeEffect(runOnce(linksOnly, c)))
        t.cp.push(cpRound(c))
      }
      const p = median(t.plain)
      const s = median(t.sandbox)
      const l = median(t.links)
      const cp = median(t.cp)
      const added = Math.max(0, s - p)
      const addedLinks = Math.max(0, l - p)
      if (c.totalBytes >= 1024 * MiB) verdict = verdict && added / cp < 0.1
      rows.push(
        `| ${c.label} | ${c.files} | ${fmt(p)} | ${fmt(s)} | ${fmt(l)} | ${fmt(cp)} | ${fmt(added)} (${pct(added / cp)}) | ${fmt(addedLinks)} (${pct(addedLinks / cp)}) |`
      )
    }
    const out = [
      `Sandbox cost of a no-op pipeline: median of ${runs} interleaved runs, in ms; trees and scratch on one filesystem (${parent}).`,
      "",
      "| patient base | files | unsandboxed | sandboxed (default) | sandboxed (hard links only) | cp -a in+out | added by sandbox (of cp -a) | added, links only (of cp -a) |",
      "|---|---|---|---|---|---|---|---|",
      ...rows,
      "",
      "default = files under 1 MiB copied into the scratch (up to 32 MiB per tree), larger files hard-linked.",
      `Target (1 GiB: default sandbox adds < 10% of cp -a): ${verdict ? "met" : "NOT met"}`
    ]
    process.stdout.write(`${out.join("\n")}\n`)
    process.exitCode = verdict ? 0 : 1
  } finally {
    cleanup()
  }
}

void main()
