/**
 * What the sandbox costs: a no-op pipeline run through the launchers exactly
 * as the execution host runs it (prepare, spawn, wait, finish, run dir
 * removed), unsandboxed (plain launcher) and sandboxed (overlay + bwrap +
 * journaled commit), against the naive approach: `cp -a` of the patient's
 * folder into a scratch and back out. Two bases: 1 GiB in 200 files, 10 MB in
 * 2,000 files. Medians of interleaved runs, all in one process run, so the
 * ratios hold even on a loaded host (absolute numbers do not).
 *
 *   npx tsx test/bench/sandbox.bench.ts [--runs N] [--dir /var/tmp]
 *
 * Targets: the sandbox adds < 10% of `cp -a` on the 1 GiB base, and is never
 * slower than `cp -a` on the small-file base (MET/MISSED under the table, with
 * the sandboxed run's phases). About 2-4 minutes (generating the 1 GiB base and
 * the `cp -a` rounds are most of it).
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Logger, LogLevel } from "effect"
import type { PipelineSpec } from "../../kernel/ports/executor.ts"
import type { Launcher, RawExit } from "../../kernel/process/launch.ts"
import { makePlainLauncher } from "../../kernel/process/plainLauncher.ts"
import { makeSandboxLauncher } from "../../kernel/process/sandbox/launcher.ts"
import { ms, ratio, table } from "./table.ts"

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
  { label: "1 GiB / 200 files", patientId: "P1GiB", totalBytes: 1024 * MiB, files: 200 },
  { label: "10 MB / 2,000 files", patientId: "P10MB", totalBytes: 10 * 1000 * 1000, files: 2000 }
]

/** Files spread over 10 sub-directories, sizes summing to `totalBytes`, non-trivial content. */
const generate = (base: string, c: Case) => {
  const dir = path.join(base, c.patientId)
  const per = Math.floor(c.totalBytes / c.files)
  const block = Buffer.alloc(per)
  for (let i = 0; i + 4 <= per; i += 4) block.writeUInt32LE((i * 2654435761) >>> 0, i)
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

const mustRun = (command: string, args: ReadonlyArray<string>) => {
  const r = spawnSync(command, [...args], { stdio: ["ignore", "ignore", "inherit"] })
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${r.status ?? r.signal})`)
}

const runLaunch = (command: string, args: ReadonlyArray<string>, env: Readonly<Record<string, string>>): Promise<RawExit> =>
  new Promise((resolve) => {
    const child = spawn(command, [...args], { env, stdio: "ignore", detached: true })
    child.once("error", () => resolve({ code: 127, signal: null, timedOut: false }))
    child.once("exit", (code, signal) => resolve({ code, signal, timedOut: false }))
  })

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

    const plain = makePlainLauncher({ patientBaseDir: base, userDataDir: user, minicondaBase: "" })
    const sandbox = makeSandboxLauncher({
      patientBaseDir: base,
      userDataDir: user,
      minicondaBase: "",
      pipelinesRoot: path.join(root, "pipelines"),
      scratchRoot: scratch,
      bwrapPath: "bwrap",
      cacheDir: path.join(root, "cache"),
      home: path.join(root, "home"),
      repoWriteWhitelist: [],
      hidden: [logs]
    })
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
    /** Sandboxed phases (ms), for the breakdown under the table. */
    const phases = { prepare: [] as Array<number>, run: [] as Array<number>, finish: [] as Array<number>, release: [] as Array<number> }
    /** One whole attempt as the host runs it; the run dir is released as after the kernel's acknowledge. */
    const runOnce = async (launcher: Launcher, c: Case): Promise<number> => {
      const s = spec(c)
      const began = performance.now()
      const quiet = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(Logger.withMinimumLogLevel(e, LogLevel.Warning))
      const launch = await quiet(launcher.prepare(s))
      const t1 = performance.now()
      const raw = await runLaunch(launch.command, launch.args, launch.env)
      const t2 = performance.now()
      const exit = await quiet(launcher.finish(s, raw))
      const t3 = performance.now()
      await quiet(launcher.release(s.runId))
      const elapsed = performance.now() - began
      if (launcher === sandbox) {
        phases.prepare.push(t1 - began)
        phases.run.push(t2 - t1)
        phases.finish.push(t3 - t2)
        phases.release.push(began + elapsed - t3)
      }
      if (exit.code !== 0 || exit.errorMessage !== undefined) throw new Error(`no-op run failed: ${JSON.stringify(exit)}`)
      return elapsed
    }
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

    const rows: Array<Array<string>> = []
    const verdicts: Array<string> = []
    for (const c of cases) {
      // One warm-up of each, so page cache and first-spawn costs favour no side.
      await runOnce(plain, c)
      await runOnce(sandbox, c)
      cpRound(c)
      const t = { plain: [] as Array<number>, sandbox: [] as Array<number>, cp: [] as Array<number> }
      // Interleaved, so load on the host hits every variant alike.
      for (let i = 0; i < runs; i++) {
        t.plain.push(await runOnce(plain, c))
        t.sandbox.push(await runOnce(sandbox, c))
        t.cp.push(cpRound(c))
      }
      const p = median(t.plain)
      const s = median(t.sandbox)
      const cp = median(t.cp)
      const added = Math.max(0, s - p)
      const small = c.files >= 2000
      const ok = small ? added <= cp : added / cp < 0.1
      verdicts.push(`${c.label}: ${small ? "sandbox adds no more than cp -a" : "sandbox adds < 10% of cp -a"}: ${ok ? "MET" : "MISSED"}`)
      rows.push([c.label, ms(p), ms(s), ms(added), ms(cp), `${((added / cp) * 100).toFixed(1)}%`, ratio(s, p)])
    }
    const load = spawnSync("cat", ["/proc/loadavg"], { encoding: "utf8" }).stdout.trim()
    const cpu = process.cpuUsage()
    process.stdout.write(
      [
        `Sandbox cost of a no-op pipeline: median of ${runs} interleaved runs, in ms; trees and scratch on one filesystem (${parent}); load average at the end: ${load}.`,
        "",
        table(["patient base", "unsandboxed", "sandboxed", "added by sandbox", "cp -a in+out", "added / cp -a", "sandboxed / unsandboxed"], rows),
        "",
        ...verdicts,
        "",
        `Sandboxed run by phase (median ms, both bases): prepare ${ms(median(phases.prepare))}, run (lomi-enter → bwrap → bash) ${ms(median(phases.run))}, ` +
          `finish ${ms(median(phases.finish))}, release ${ms(median(phases.release))}. Bench process CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms.`,
        ""
      ].join("\n")
    )
    process.exitCode = verdicts.every((v) => v.endsWith(": MET")) ? 0 : 1
  } finally {
    cleanup()
  }
}

void main()
