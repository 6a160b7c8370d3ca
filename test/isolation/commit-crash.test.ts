/**
 * A crash in the middle of a commit (rule 15): a real sandboxed run changes,
 * deletes, creates and renames hundreds of entries and exits 0; its `finish`
 * runs in a child process that is SIGKILLed at a random instant of the commit
 * (measured from the moment its journal appears), 50 times over a fresh copy
 * of the same state. After `recover`, the patient's folder must hash exactly
 * as the old tree or as the new one; a second `finish` must then complete it.
 */
import { execFileSync, spawn } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { buildSync } from "esbuild"
import { Effect, Logger, LogLevel } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import type { PipelineSpec } from "../../kernel/ports/executor.ts"
import { makeSandboxLauncher, type SandboxLauncherOptions } from "../../kernel/process/sandbox/launcher.ts"
import { startLaunch, treeHash } from "./runner.ts"

const repoRoot = path.resolve(import.meta.dirname, "../..")
const world = `/var/tmp/lomi-commit-crash-${process.pid}`
const template = `${world}-template`
/** The child, bundled once: a bare `node child.mjs` starts in a fraction of tsx's time on a loaded host. */
const childBundle = `${world}-child.mjs`
const LOOPS = Number(process.env["LOMI_CRASH_LOOPS"] ?? "50")

const options: SandboxLauncherOptions = {
  patientBaseDir: path.join(world, "base"),
  userDataDir: path.join(world, "user"),
  minicondaBase: "",
  pipelinesRoot: path.join(world, "pipelines"),
  scratchRoot: path.join(world, "scratch"),
  bwrapPath: "/usr/bin/bwrap",
  repoWriteWhitelist: [],
  home: path.join(world, "home")
}

const spec: PipelineSpec = {
  runId: 4242,
  docId: "doc-crash",
  patientId: "P",
  service: "Epi-Insight",
  attempt: 1,
  script: path.join(repoRoot, "fixtures/pipelines/test/snippet.sh"),
  env: {
    LOMI_TEST_SNIPPET: [
      'p="$LOMI_BASE_DIR/$2"; u="$LOMI_USER_DIR/$2"',
      'for i in $(seq 0 59); do echo "changed $i" > "$p/keep/f$i"; done',
      'for i in $(seq 0 19); do rm "$p/gone/f$i"; done',
      'mkdir -p "$p/made" "$u/out"; for i in $(seq 0 59); do echo "new $i" > "$p/made/n$i"; echo "o $i" > "$u/out/o$i"; done',
      'mv "$p/olddir" "$p/newdir"; chmod 700 "$p/keep"; exit 0'
    ].join("; ")
  },
  logFile: path.join(world, "logs", "run.log.1")
}

const quiet = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(Logger.withMinimumLogLevel(effect, LogLevel.None))

const seed = () => {
  for (const d of ["base/P/keep", "base/P/gone", "base/P/olddir", "user/P", "pipelines", "scratch", "logs"]) mkdirSync(path.join(world, d), { recursive: true })
  for (let i = 0; i < 60; i++) writeFileSync(path.join(world, "base/P/keep", `f${i}`), `old ${i}\n`)
  for (let i = 0; i < 20; i++) writeFileSync(path.join(world, "base/P/gone", `f${i}`), `old ${i}\n`)
  for (let i = 0; i < 20; i++) writeFileSync(path.join(world, "base/P/olddir", `d${i}`), `dir ${i}\n`)
  writeFileSync(path.join(world, "user/P/prior.json"), "{}\n")
}

const hashes = () => `${treeHash(path.join(world, "base/P"))}:${treeHash(path.join(world, "user/P"))}`

const restore = () => {
  rmSync(world, { recursive: true, force: true })
  execFileSync("cp", ["-a", template, world])
}

/** Runs the child's finish; kills it `afterJournalMs` after the journal appears (never, when undefined). */
const finishInChild = (afterJournalMs: number | undefined): Promise<{ readonly killed: boolean; readonly commitMs: number }> =>
  new Promise((resolve) => {
    const journal = path.join(world, "scratch", `run-${spec.runId}`, "journal.json")
    // node itself (not the tsx wrapper, which would leave its own child running when killed).
    const child = spawn(process.execPath, [childBundle, JSON.stringify({ options, spec })], {
      cwd: repoRoot,
      stdio: "ignore"
    })
    let seenAt: number | undefined
    let killed = false
    const watch = setInterval(() => {
      if (seenAt === undefined && (existsSync(journal) || existsSync(`${journal}.tmp`))) {
        seenAt = performance.now()
        if (afterJournalMs !== undefined) {
          setTimeout(() => {
            killed = child.kill("SIGKILL")
          }, afterJournalMs)
        }
      }
    }, 1)
    child.once("exit", (_code, signal) => {
      clearInterval(watch)
      resolve({ killed: killed && signal === "SIGKILL", commitMs: seenAt === undefined ? 0 : performance.now() - seenAt })
    })
  })

describe.skipIf(!existsSync("/usr/bin/bwrap"))("crash in the middle of a commit", () => {
  afterAll(() => {
    rmSync(world, { recursive: true, force: true })
    rmSync(template, { recursive: true, force: true })
    rmSync(childBundle, { force: true })
  })

  it(`after ${LOOPS} SIGKILLs at random points of a commit, recover leaves the old or the new tree, never a mix`, async () => {
    rmSync(world, { recursive: true, force: true })
    buildSync({
      entryPoints: [path.join(repoRoot, "test/isolation/commit-child.ts")],
      bundle: true,
      platform: "node",
      format: "esm",
      outfile: childBundle,
      logLevel: "error"
    })
    seed()
    const launcher = makeSandboxLauncher(options)
    const launch = await quiet(launcher.prepare(spec))
    const raw = await startLaunch(launch, spec.logFile).exit
    expect(raw).toEqual({ code: 0, signal: null, timedOut: false })
    rmSync(template, { recursive: true, force: true })
    execFileSync("cp", ["-a", world, template])
    const oldHash = hashes()

    // Calibration: the uninterrupted commit gives the new tree and how long a commit takes.
    const calibration = await finishInChild(undefined)
    expect(JSON.parse(readFileSync(path.join(world, "scratch", `run-${spec.runId}`, "outcome.json"), "utf8"))).toEqual({ code: 0, signal: null })
    const newHash = hashes()
    expect(newHash).not.toBe(oldHash)
    expect(readFileSync(path.join(world, "base/P/keep/f7"), "utf8")).toBe("changed 7\n")
    expect(existsSync(path.join(world, "base/P/gone/f7"))).toBe(false)
    expect(readFileSync(path.join(world, "base/P/newdir/d3"), "utf8")).toBe("dir 3\n")
    expect(existsSync(path.join(world, "base/P/olddir"))).toBe(false)
    const window = Math.max(20, calibration.commitMs)

    const seen = { old: 0, new: 0, midCommit: 0 }
    for (let i = 0; i < LOOPS; i++) {
      restore()
      const t0 = performance.now()
      const { killed } = await finishInChild(Math.random() * window)
      if (process.env["LOMI_CRASH_DEBUG"] !== undefined) process.stderr.write(`iteration ${i}: ${(performance.now() - t0).toFixed(0)} ms killed=${killed}\n`)
      const journalLeft = existsSync(path.join(world, "scratch", `run-${spec.runId}`, "journal.json"))
      if (killed && journalLeft) seen.midCommit++
      const fresh = makeSandboxLauncher(options)
      await quiet(fresh.recover(new Set([spec.runId])))
      const after = hashes()
      expect([oldHash, newHash]).toContain(after)
      if (after === oldHash) seen.old++
      else seen.new++
      // The host then finishes the run again: the same answer, and the new tree (checked every 5th loop: it costs a remount).
      if (i % 5 === 0) {
        expect(await quiet(fresh.finish(spec, raw))).toEqual({ code: 0, signal: null })
        expect(hashes()).toBe(newHash)
      }
    }
    if (process.env["LOMI_CRASH_DEBUG"] !== undefined) process.stderr.write(`outcomes: ${JSON.stringify(seen)}\n`)
    // The kills must really have landed inside commits, on both sides of the commit point.
    expect(seen.midCommit).toBeGreaterThanOrEqual(10)
    expect(seen.old).toBeGreaterThan(0)
    expect(seen.new).toBeGreaterThan(0)
  }, 900_000)
})
