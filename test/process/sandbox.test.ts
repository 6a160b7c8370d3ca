/**
 * The bubblewrap executor (the ProcessPort wrapper over the sandbox launcher)
 * with real bwrap and real processes: isolation (what a pipeline must not be
 * able to touch), transparency (what must work as if it ran on the real
 * trees), store.md rule 15 (changes reach P's folders only on exit 0), plus
 * the run dir's lifecycle. The attack catalogue is test/isolation/.
 */
import { spawn } from "node:child_process"
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Duration, Effect, Exit, Logger, LogLevel, Scope, Stream } from "effect"
import type { PipelineSpec, ProcessPortShape } from "../../kernel/ports/process.ts"
import { makeSandboxExecutor, type SandboxExecutorOptions } from "../../kernel/process/sandbox.ts"
import { tailLines } from "../../kernel/process/tail.ts"
import {
  alive,
  demoScript,
  eventually,
  groupPids,
  makeSpec,
  makeWorld,
  pidsMatching,
  quiet,
  readLog,
  repoRoot,
  runToExit,
  sandboxOptions,
  testScript,
  type World
} from "./helpers.ts"

const REPO = "epi-insight-auto-pipeline-v2"
const MiB = 1024 * 1024

const seedRepo = (world: World) => {
  const repo = path.join(world.pipelines, REPO)
  mkdirSync(path.join(repo, "output"), { recursive: true })
  mkdirSync(path.join(repo, "src"), { recursive: true })
  writeFileSync(path.join(repo, "output", "debug_report.html"), "old report\n")
  writeFileSync(path.join(repo, "style.css"), "body {}\n")
  writeFileSync(path.join(repo, "src", "main.py"), "print('hi')\n")
  mkdirSync(world.cache, { recursive: true })
  writeFileSync(path.join(world.cache, "db.txt"), "cache v1\n")
}

/** base/<pid>/{input.txt, big.bin (2 MiB, hard-linked when staged), sub/nested.txt}, user/<pid>/prior.json */
const seedPatient = (world: World, patientId: string) => {
  const base = path.join(world.base, patientId)
  mkdirSync(path.join(base, "sub"), { recursive: true })
  writeFileSync(path.join(base, "input.txt"), "original input\n")
  writeFileSync(path.join(base, "big.bin"), Buffer.alloc(2 * MiB, 7))
  writeFileSync(path.join(base, "sub", "nested.txt"), "nested\n")
  mkdirSync(path.join(world.user, patientId), { recursive: true })
  writeFileSync(path.join(world.user, patientId, "prior.json"), '{"prior":true}\n')
}

let patientCounter = 0
const freshPatient = (world: World) => {
  const id = `P${String(++patientCounter).padStart(3, "0")}x`
  seedPatient(world, id)
  return id
}

const snippetSpec = (world: World, snippet: string, overrides: Partial<PipelineSpec> = {}) =>
  makeSpec(world, {
    script: testScript("snippet.sh"),
    ...overrides,
    env: { LOMI_TEST_SNIPPET: snippet, ...overrides.env }
  })

const logHas = (spec: PipelineSpec, text: string) =>
  Effect.sync(() => (existsSync(spec.logFile) && readLog(spec).includes(text) ? true : undefined))

const silent = <A, E, R>(effect: Effect.Effect<A, E, R>) => Logger.withMinimumLogLevel(effect, LogLevel.None)

const runDirOf = (world: World, spec: PipelineSpec) => path.join(world.scratch, `run-${spec.runId}`)

describe("sandbox executor", () => {
  let world: World
  let port: ProcessPortShape
  let options: SandboxExecutorOptions
  beforeAll(() => {
    world = makeWorld()
    seedRepo(world)
    seedPatient(world, "P001")
    mkdirSync(path.join(world.root, "data"), { recursive: true })
    options = sandboxOptions(world, {
      hidden: [path.join(world.root, "data")],
      repoWriteWhitelist: [
        [REPO, "output"],
        [REPO, "style.css"],
        [REPO, "not-there-yet"],
        [REPO, "../escape"]
      ]
    })
    port = makeSandboxExecutor(options)
  })
  afterAll(() => world.cleanup())

  describe("isolation: writes outside the scratch fail with EROFS and change nothing", () => {
    let spec: PipelineSpec
    const targets: Record<string, () => string> = {
      "/etc": () => "/etc/lomi-write-test",
      "/usr": () => "/usr/lomi-write-test",
      "the pipeline repo (not whitelisted)": () => path.join(world.pipelines, REPO, "src", "new.py"),
      "the allocator's data dir (hidden, read-only)": () => path.join(world.root, "data", "escape.txt"),
      // A checkout under /tmp sits in the sandbox's private tmpfs, where writes are allowed and vanish.
      ...(repoRoot.startsWith("/tmp/") ? {} : { "the daemon's working directory": () => path.join(repoRoot, "lomi-escape.txt") }),
      "host /var/tmp": () => `/var/tmp/lomi-escape-${process.pid}`,
      "the home directory outside ~/.cache": () => path.join(world.home, "escape.txt"),
      "the scratch root beside the run dir": () => path.join(world.scratch, "escape.txt")
    }
    beforeAll(async () => {
      spec = makeSpec(world, {
        script: testScript("write-outside.sh"),
        env: { LOMI_TEST_TARGETS: Object.values(targets).map((t) => t()).join(":") }
      })
      const exit = await Effect.runPromise(quiet(runToExit(port, spec)))
      expect(exit.code).toBe(0)
    })
    for (const [name, target] of Object.entries(targets)) {
      it(`write to ${name}`, () => {
        expect(readLog(spec)).toContain(`WRITE ${target()} denied Read-only file system`)
        expect(existsSync(target())).toBe(false)
      })
    }
  })

  it.live("the pipeline cannot remount its way out (capabilities dropped)", () =>
    quiet(
      Effect.gen(function* () {
        const spec = snippetSpec(
          world,
          'grep CapEff /proc/self/status; if mount -o remount,rw / 2>/dev/null; then echo "REMOUNT ok"; else echo "REMOUNT denied"; fi'
        )
        yield* runToExit(port, spec)
        expect(readLog(spec)).toContain("REMOUNT denied")
        expect(readLog(spec)).toMatch(/CapEff:\s+0+\n/)
      })
    )
  )

  it.live("the pipeline sees only its own processes (pid namespace)", () =>
    quiet(
      Effect.gen(function* () {
        const spec = snippetSpec(world, 'echo "NPROC $(ls /proc | grep -c "^[0-9]")"; echo "MYPID $$"')
        yield* runToExit(port, spec)
        const nproc = Number(/NPROC (\d+)/.exec(readLog(spec))?.[1])
        expect(nproc).toBeGreaterThan(0)
        expect(nproc).toBeLessThan(6)
        expect(Number(/MYPID (\d+)/.exec(readLog(spec))?.[1])).toBeLessThan(6)
      })
    )
  )

  it.live("/tmp is private: host files are hidden, the run's files stay inside", () =>
    quiet(
      Effect.gen(function* () {
        const marker = path.join("/tmp", `lomi-host-marker-${process.pid}`)
        writeFileSync(marker, "host\n")
        const spec = snippetSpec(
          world,
          `test -e ${marker} && echo "HOSTMARK visible" || echo "HOSTMARK hidden"; echo in > /tmp/inside-$1 && echo "TMPWRITE ok"; echo "TMPDIR=$TMPDIR"`
        )
        yield* runToExit(port, spec)
        const log = readLog(spec)
        expect(log).toContain("HOSTMARK hidden")
        expect(log).toContain("TMPWRITE ok")
        expect(log).toContain("TMPDIR=/tmp\n")
        expect(existsSync(path.join("/tmp", `inside-${spec.docId}`))).toBe(false)
        rmSync(marker)
      })
    )
  )

  it.live("two concurrent runs writing the same whitelisted repo file each keep their own content", () =>
    quiet(
      Effect.gen(function* () {
        const real = path.join(world.pipelines, REPO, "output", "debug_report.html")
        const env = { LOMI_TEST_REPO_FILE: real, LOMI_TEST_HOLD: "1" }
        const a = makeSpec(world, { script: testScript("repo-write.sh"), env })
        const b = makeSpec(world, { script: testScript("repo-write.sh"), env })
        const [ea, eb] = yield* Effect.all([runToExit(port, a), runToExit(port, b)], { concurrency: 2 })
        expect(readLog(a)).toContain(`READBACK ${a.docId}`)
        expect(readLog(b)).toContain(`READBACK ${b.docId}`)
        expect([ea.code, eb.code]).toEqual([0, 0])
        expect(readFileSync(real, "utf8")).toBe("old report\n")
      })
    )
  )

  it.live("a whitelisted single file is private too, and starts with the repo's content", () =>
    quiet(
      Effect.gen(function* () {
        const real = path.join(world.pipelines, REPO, "style.css")
        const spec = snippetSpec(world, `echo "BEFORE $(cat ${real})"; echo "p { }" > ${real} && echo "CSS written"`)
        yield* runToExit(port, spec)
        expect(readLog(spec)).toContain("BEFORE body {}")
        expect(readLog(spec)).toContain("CSS written")
        expect(readFileSync(real, "utf8")).toBe("body {}\n")
      })
    )
  )

  it.live("new files in a whitelisted directory are discarded; a missing or escaping entry is skipped", () =>
    quiet(
      Effect.gen(function* () {
        const dir = path.join(world.pipelines, REPO, "output")
        const spec = snippetSpec(world, `echo x > ${dir}/new-$1.html && echo "NEW ok"; ls ${dir}`)
        const exit = yield* runToExit(port, spec)
        expect(exit.code).toBe(0)
        expect(readLog(spec)).toContain("NEW ok")
        expect(readLog(spec)).toContain("debug_report.html")
        expect(existsSync(path.join(dir, `new-${spec.docId}.html`))).toBe(false)
        expect(existsSync(path.join(world.pipelines, REPO, "not-there-yet"))).toBe(false)
        expect(existsSync(path.join(world.pipelines, "escape"))).toBe(false)
      })
    )
  )

  it.live("an in-place edit of a (small, copied) input does not reach the real file during the run", () =>
    quiet(
      Effect.gen(function* () {
        const patientId = freshPatient(world)
        const real = path.join(world.base, patientId, "input.txt")
        const before = statSync(real)
        const spec = snippetSpec(
          world,
          'printf "edited\\n" > "$LOMI_BASE_DIR/$2/input.txt"; echo EDITED; while [ ! -e "$HOME/.cache/go-$1" ]; do sleep 0.05; done',
          { patientId }
        )
        yield* Effect.scoped(
          Effect.gen(function* () {
            const running = yield* port.start(spec)
            yield* eventually(logHas(spec, "EDITED"))
            expect(readFileSync(real, "utf8")).toBe("original input\n")
            expect(statSync(real).ino).toBe(before.ino)
            writeFileSync(path.join(world.cache, `go-${spec.docId}`), "")
            expect((yield* running.exit).code).toBe(0)
          })
        )
        // Documented: a changed file is an output, so it is brought back at the end.
        expect(readFileSync(real, "utf8")).toBe("edited\n")
      })
    )
  )

  it.live("a large input replaced by rename is copy-on-write: the real file is untouched until the commit", () =>
    quiet(
      Effect.gen(function* () {
        const patientId = freshPatient(world)
        const real = path.join(world.base, patientId, "big.bin")
        const ino = statSync(real).ino
        const spec = snippetSpec(
          world,
          'f="$LOMI_BASE_DIR/$2/big.bin"; cp "$f" "$f.tmp"; printf tail >> "$f.tmp"; mv "$f.tmp" "$f"; echo REPLACED; while [ ! -e "$HOME/.cache/go-$1" ]; do sleep 0.05; done',
          { patientId }
        )
        yield* Effect.scoped(
          Effect.gen(function* () {
            const running = yield* port.start(spec)
            yield* eventually(logHas(spec, "REPLACED"))
            expect(statSync(real).size).toBe(2 * MiB)
            expect(statSync(real).ino).toBe(ino)
            writeFileSync(path.join(world.cache, `go-${spec.docId}`), "")
            yield* running.exit
          })
        )
        expect(statSync(real).size).toBe(2 * MiB + 4)
      })
    )
  )

  it.live("appending in place to a large input reaches the real file only at the commit (exit 0)", () =>
    quiet(
      Effect.gen(function* () {
        const patientId = freshPatient(world)
        const real = path.join(world.base, patientId, "big.bin")
        const ino = statSync(real).ino
        const spec = snippetSpec(
          world,
          'printf tail >> "$LOMI_BASE_DIR/$2/big.bin"; echo APPENDED; while [ ! -e "$HOME/.cache/go-$1" ]; do sleep 0.05; done',
          { patientId }
        )
        yield* Effect.scoped(
          Effect.gen(function* () {
            const running = yield* port.start(spec)
            yield* eventually(logHas(spec, "APPENDED"))
            expect(statSync(real).size).toBe(2 * MiB)
            expect(statSync(real).ino).toBe(ino)
            writeFileSync(path.join(world.cache, `go-${spec.docId}`), "")
            expect((yield* running.exit).code).toBe(0)
          })
        )
        expect(statSync(real).size).toBe(2 * MiB + 4)
      })
    )
  )

  it.live("inputs are readable inside, with the same content as the real files", () =>
    quiet(
      Effect.gen(function* () {
        const real = path.join(world.base, "P001")
        const spec = snippetSpec(
          world,
          `cat "$LOMI_BASE_DIR/$2/input.txt"; cat "$LOMI_BASE_DIR/$2/sub/nested.txt"; cat "$LOMI_USER_DIR/$2/prior.json"; cmp "$LOMI_BASE_DIR/$2/big.bin" ${real}/big.bin && echo "BIG same"`,
          { patientId: "P001" }
        )
        yield* runToExit(port, spec)
        const log = readLog(spec)
        expect(log).toContain("original input\nnested\n{\"prior\":true}\n")
        expect(log).toContain("BIG same")
      })
    )
  )

  it.live("LOMI_BASE_DIR / LOMI_USER_DIR are the real roots (P's folder is its copy-on-write view); args, service env and defaults pass through", () =>
    quiet(
      Effect.gen(function* () {
        const spec = makeSpec(world, {
          docId: "docS",
          patientId: "P001",
          service: "Gen-Decoder",
          env: { LOMI_TEST_EXTRA: "x1", LOMI_USER_DIR: "/service/cannot/override" }
        })
        yield* runToExit(port, spec)
        const log = readLog(spec)
        expect(log).toContain("args: docS P001 Gen-Decoder")
        expect(log).toContain(`LOMI_BASE_DIR=${world.base}\n`)
        expect(log).toContain(`LOMI_USER_DIR=${world.user}\n`)
        expect(log).toContain("LOMI_MINICONDA_BASE=/opt/conda-test\n")
        expect(log).toContain("PYTHONDONTWRITEBYTECODE=1\n")
        expect(log).toContain("LOMI_TEST_EXTRA=x1\n")
      })
    )
  )

  for (const code of [0, 3, 75]) {
    it.live(`exit code ${code} passes through bwrap`, () =>
      quiet(
        Effect.gen(function* () {
          const spec = makeSpec(world, { env: { LOMI_TEST_EXIT_CODE: String(code) } })
          expect(yield* runToExit(port, spec)).toEqual({ code, signal: null })
        })
      )
    )
  }

  it.live("outputs come back to the real base and user-data trees (files, nested dirs, symlinks)", () =>
    quiet(
      Effect.gen(function* () {
        const patientId = freshPatient(world)
        const spec = makeSpec(world, { script: testScript("write-outputs.sh"), patientId, service: "Omni-Health" })
        expect((yield* runToExit(port, spec)).code).toBe(0)
        const base = path.join(world.base, patientId)
        expect(readFileSync(path.join(base, "out", "result.txt"), "utf8")).toBe(`base output of ${spec.docId}\n`)
        expect(readFileSync(path.join(base, "out", "nested", "deep.txt"), "utf8")).toBe(`deep output of ${spec.docId}\n`)
        expect(readlinkSync(path.join(base, "latest"))).toBe("out/result.txt")
        expect(readFileSync(path.join(world.user, patientId, "Omni-Health", "summary.txt"), "utf8")).toBe(
          `user output of ${spec.docId}\n`
        )
      })
    )
  )

  it.live("an output written beside the patient's folder is refused: nothing committed, the success becomes exit 1", () =>
    silent(
      Effect.gen(function* () {
        const patientId = freshPatient(world)
        const spec = snippetSpec(world, 'echo mine > "$LOMI_BASE_DIR/$2/mine.txt"; echo "$2,done" > "$LOMI_BASE_DIR/summary-$1.csv"', { patientId })
        expect(yield* runToExit(port, spec)).toEqual({ code: 1, signal: null })
        expect(existsSync(path.join(world.base, `summary-${spec.docId}.csv`))).toBe(false)
        expect(existsSync(path.join(world.base, patientId, "mine.txt"))).toBe(false)
        expect(readLog(spec)).toContain(`refused ${world.base}/summary-${spec.docId}.csv: written outside patient ${patientId}'s folder`)
        expect(existsSync(runDirOf(world, spec))).toBe(false)
      })
    )
  )

  it.live("untouched inputs are not written back (same inode, same mtime)", () =>
    quiet(
      Effect.gen(function* () {
        const patientId = freshPatient(world)
        const files = ["input.txt", "big.bin", "sub/nested.txt"].map((f) => path.join(world.base, patientId, f))
        const before = files.map((f) => statSync(f, { bigint: true }))
        yield* runToExit(port, makeSpec(world, { patientId }))
        const after = files.map((f) => statSync(f, { bigint: true }))
        expect(after.map((s) => [s.ino, s.mtimeNs])).toEqual(before.map((s) => [s.ino, s.mtimeNs]))
      })
    )
  )

  it.live("a concurrent update of a real file during the run is not clobbered by the run's stale copy", () =>
    quiet(
      Effect.gen(function* () {
        const patientId = freshPatient(world)
        const real = path.join(world.base, patientId, "input.txt")
        const spec = snippetSpec(world, 'echo WAITING; while [ ! -e "$HOME/.cache/go-$1" ]; do sleep 0.05; done', {
          patientId
        })
        yield* Effect.scoped(
          Effect.gen(function* () {
            const running = yield* port.start(spec)
            yield* eventually(logHas(spec, "WAITING"))
            writeFileSync(real, "updated by another run\n")
            writeFileSync(path.join(world.cache, `go-${spec.docId}`), "")
            yield* running.exit
          })
        )
        expect(readFileSync(real, "utf8")).toBe("updated by another run\n")
      })
    )
  )

  it.live("deletions propagate on exit 0, and only then", () =>
    quiet(
      Effect.gen(function* () {
        const patientId = freshPatient(world)
        const failed = snippetSpec(world, 'rm -r "$LOMI_BASE_DIR/$2/sub" "$LOMI_USER_DIR/$2/prior.json" && echo GONE; exit 4', { patientId })
        expect((yield* runToExit(port, failed)).code).toBe(4)
        expect(existsSync(path.join(world.base, patientId, "sub", "nested.txt"))).toBe(true)
        expect(existsSync(path.join(world.user, patientId, "prior.json"))).toBe(true)
        const spec = snippetSpec(world, 'rm -r "$LOMI_BASE_DIR/$2/sub" "$LOMI_USER_DIR/$2/prior.json" && echo GONE', { patientId })
        expect((yield* runToExit(port, spec)).code).toBe(0)
        expect(readLog(spec)).toContain("GONE")
        expect(existsSync(path.join(world.base, patientId, "sub"))).toBe(false)
        expect(existsSync(path.join(world.user, patientId, "prior.json"))).toBe(false)
        expect(existsSync(path.join(world.base, patientId, "input.txt"))).toBe(true)
      })
    )
  )

  it.live("~/.cache is the real cache dir, writable (new files and in-place updates)", () =>
    quiet(
      Effect.gen(function* () {
        const spec = snippetSpec(world, 'echo "c-$1" > "$HOME/.cache/new-$1" && echo "cache v2" >> "$HOME/.cache/db.txt" && echo CACHE ok')
        yield* runToExit(port, spec)
        expect(readLog(spec)).toContain("CACHE ok")
        expect(readFileSync(path.join(world.cache, `new-${spec.docId}`), "utf8")).toBe(`c-${spec.docId}\n`)
        expect(readFileSync(path.join(world.cache, "db.txt"), "utf8")).toContain("cache v2\n")
      })
    )
  )

  it.live("the log is tailable while the run is still going", () =>
    quiet(
      Effect.gen(function* () {
        const spec = makeSpec(world, {
          script: testScript("slow-lines.sh"),
          env: { LOMI_TEST_LINES: "20", LOMI_TEST_INTERVAL: "0.1" }
        })
        yield* Effect.scoped(
          Effect.gen(function* () {
            const running = yield* port.start(spec)
            const first = yield* tailLines(spec.logFile, { interval: Duration.millis(20) }).pipe(
              Stream.take(3),
              Stream.runCollect
            )
            expect(Chunk.toReadonlyArray(first)).toEqual(["line 1", "line 2", "line 3"])
            expect(alive(running.pid ?? -1)).toBe(true)
            expect((yield* running.exit).code).toBe(0)
          })
        )
        expect(readLog(spec)).toContain("line 20")
      })
    )
  )

  it.live("writes to the log file by its path land in the real log", () =>
    quiet(
      Effect.gen(function* () {
        const spec = makeSpec(world, { script: testScript("snippet.sh") })
        const withLog = { ...spec, env: { LOMI_TEST_SNIPPET: 'echo "via path" >> "$LOMI_TEST_LOG"', LOMI_TEST_LOG: spec.logFile } }
        yield* runToExit(port, withLog)
        expect(readLog(spec)).toContain("via path")
      })
    )
  )

  it.live("outputs for a patient with no folder yet come back (folders created)", () =>
    quiet(
      Effect.gen(function* () {
        const spec = makeSpec(world, { script: testScript("write-outputs.sh"), patientId: "PNEW", service: "Gen-Decoder" })
        expect((yield* runToExit(port, spec)).code).toBe(0)
        expect(readFileSync(path.join(world.base, "PNEW", "out", "result.txt"), "utf8")).toBe(`base output of ${spec.docId}\n`)
        expect(readFileSync(path.join(world.user, "PNEW", "Gen-Decoder", "summary.txt"), "utf8")).toBe(`user output of ${spec.docId}\n`)
      })
    )
  )

  it.live("two concurrent runs for one patient (different services) both bring their outputs back", () =>
    quiet(
      Effect.gen(function* () {
        const patientId = freshPatient(world)
        const a = makeSpec(world, { script: testScript("write-outputs.sh"), patientId, service: "Epi-Insight" })
        const b = makeSpec(world, { script: testScript("write-outputs.sh"), patientId, service: "Omni-Health" })
        yield* Effect.all([runToExit(port, a), runToExit(port, b)], { concurrency: 2 })
        expect(readFileSync(path.join(world.user, patientId, "Epi-Insight", "summary.txt"), "utf8")).toBe(`user output of ${a.docId}\n`)
        expect(readFileSync(path.join(world.user, patientId, "Omni-Health", "summary.txt"), "utf8")).toBe(`user output of ${b.docId}\n`)
      })
    )
  )

  it.live("the commit never writes through a symlink of the real tree (it replaces the symlink)", () =>
    silent(
      Effect.gen(function* () {
        const patientId = freshPatient(world)
        const outside = path.join(world.root, `outside-${patientId}`)
        mkdirSync(outside)
        symlinkSync(outside, path.join(world.base, patientId, "link"))
        const spec = snippetSpec(
          world,
          'rm "$LOMI_BASE_DIR/$2/link" && mkdir "$LOMI_BASE_DIR/$2/link" && echo x > "$LOMI_BASE_DIR/$2/link/planted"',
          { patientId }
        )
        expect((yield* runToExit(port, spec)).code).toBe(0)
        expect(existsSync(path.join(outside, "planted"))).toBe(false)
        expect(lstatSync(path.join(world.base, patientId, "link")).isDirectory()).toBe(true)
        expect(readFileSync(path.join(world.base, patientId, "link", "planted"), "utf8")).toBe("x\n")
      })
    )
  )

  it.live("a kill gives a sandboxed pipeline its SIGTERM grace (its trap runs)", () =>
    quiet(
      Effect.gen(function* () {
        const spec = snippetSpec(
          world,
          "trap 'sleep 0.3; echo \"TERM received\"; exit 7' TERM; echo READY; while true; do sleep 0.05; done"
        )
        const scope = yield* Scope.make()
        const running = yield* Scope.extend(port.start(spec), scope)
        yield* eventually(logHas(spec, "READY"))
        yield* Scope.close(scope, Exit.void)
        yield* running.exit
        expect(readLog(spec)).toContain("TERM received")
        yield* eventually(Effect.sync(() => (groupPids(running.pid ?? -1).length === 0 ? true : undefined)))
      })
    )
  )

  it.live("a sandboxed pipeline that ignores SIGTERM still ends when the scope closes", () =>
    quiet(
      Effect.gen(function* () {
        const spec = makeSpec(world, { script: testScript("ignore-term.sh") })
        const scope = yield* Scope.make()
        const running = yield* Scope.extend(port.start(spec), scope)
        yield* eventually(logHas(spec, "ignoring SIGTERM"))
        yield* Scope.close(scope, Exit.void)
        yield* running.exit
        yield* eventually(Effect.sync(() => (groupPids(running.pid ?? -1).length === 0 ? true : undefined)))
        expect(existsSync(runDirOf(world, spec))).toBe(false)
      })
    )
  )

  describe("a patient with no folder yet in a tree: P is the run's own empty dir, bound (no overlay)", () => {
    const noFolderPatient = () => `N${String(++patientCounter).padStart(3, "0")}x`

    it.live("writes inside P are committed as the new folder on exit 0; nothing of it exists before", () =>
      quiet(
        Effect.gen(function* () {
          const patientId = noFolderPatient()
          const spec = snippetSpec(world, 'ls -A "$LOMI_USER_DIR/$2" | wc -l | sed "s/^/ENTRIES /"; mkdir -p "$LOMI_USER_DIR/$2/out" && echo r > "$LOMI_USER_DIR/$2/out/result.json" && echo b > "$LOMI_BASE_DIR/$2/b.txt"', {
            patientId
          })
          expect(yield* runToExit(port, spec)).toEqual({ code: 0, signal: null })
          expect(readLog(spec)).toContain("ENTRIES 0")
          expect(readFileSync(path.join(world.user, patientId, "out", "result.json"), "utf8")).toBe("r\n")
          expect(readFileSync(path.join(world.base, patientId, "b.txt"), "utf8")).toBe("b\n")
        })
      )
    )

    it.live("a failed run leaves no folder; a setuid file, a FIFO, a hard link or a write beside P is refused", () =>
      quiet(
        Effect.gen(function* () {
          const cases: ReadonlyArray<readonly [string, string]> = [
            ['echo x > "$LOMI_USER_DIR/$2/f"; exit 5', ""],
            ['echo x > "$LOMI_USER_DIR/$2/s" && chmod u+s "$LOMI_USER_DIR/$2/s"', "setuid/setgid file"],
            ['mkfifo "$LOMI_USER_DIR/$2/q"', "FIFO"],
            ['echo x > "$LOMI_USER_DIR/$2/a" && ln "$LOMI_USER_DIR/$2/a" "$LOMI_USER_DIR/$2/b"', "hard link"],
            ['echo x > "$LOMI_USER_DIR/$2/a"; echo y > "$LOMI_USER_DIR/beside-$1"', "written outside patient"]
          ]
          for (const [snippet, refusal] of cases) {
            const patientId = noFolderPatient()
            const spec = snippetSpec(world, snippet, { patientId })
            const exit = yield* runToExit(port, spec)
            // A refused commit turns the success into exit 1 (the ProcessPort's form of errorMessage), the reason logged.
            expect(exit.code).toBe(refusal === "" ? 5 : 1)
            if (refusal !== "") expect(readLog(spec)).toContain(refusal)
            expect(existsSync(path.join(world.user, patientId))).toBe(false)
            expect(existsSync(path.join(world.user, `beside-${spec.docId}`))).toBe(false)
          }
        })
      )
    )

    it.live("the next run, of another patient or the same, sees nothing a discarded run left", () =>
      quiet(
        Effect.gen(function* () {
          const patientId = noFolderPatient()
          const first = snippetSpec(world, 'echo secret > "$LOMI_USER_DIR/$2/left.txt"; exit 3', { patientId })
          expect((yield* runToExit(port, first)).code).toBe(3)
          for (const next of [patientId, noFolderPatient()]) {
            const spec = snippetSpec(world, 'ls -A "$LOMI_USER_DIR/$2" | wc -l | sed "s/^/ENTRIES /"; cat "$LOMI_USER_DIR/$2/left.txt" 2>/dev/null || echo NONE', {
              patientId: next
            })
            expect((yield* runToExit(port, spec)).code).toBe(0)
            expect(readLog(spec)).toContain("ENTRIES 0")
            expect(readLog(spec)).toContain("NONE")
          }
        })
      )
    )
  })

  it.live("a run that changes nothing leaves a patient folder's mode as it was (and sees that mode inside)", () =>
    quiet(
      Effect.gen(function* () {
        const patientId = freshPatient(world)
        const folder = path.join(world.base, patientId)
        chmodSync(folder, 0o750)
        const spec = snippetSpec(world, 'stat -c "MODE %a" "$LOMI_BASE_DIR/$2"', { patientId })
        expect(yield* runToExit(port, spec)).toEqual({ code: 0, signal: null })
        expect(readLog(spec)).toContain("MODE 750\n")
        expect(statSync(folder).mode & 0o7777).toBe(0o750)
      })
    )
  )

  it.live("overlays are mounted volatile (no whole-filesystem sync when the run's namespace goes) and are gone after the run", () =>
    quiet(
      Effect.gen(function* () {
        const patientId = freshPatient(world)
        const spec = snippetSpec(
          world,
          'grep " overlay " /proc/self/mountinfo | grep -c volatile | sed "s/^/VOLATILE /"; grep " overlay " /proc/self/mountinfo | grep -vc volatile | sed "s/^/OTHER /"',
          { patientId }
        )
        expect((yield* runToExit(port, spec)).code).toBe(0)
        // base and user both have P's folder here: two overlays (each also listed where the host's / was
        // bound, under the hidden scratch root), all volatile.
        expect(readLog(spec)).toMatch(/VOLATILE [2-9]\n/)
        expect(readLog(spec)).toContain("OTHER 0\n")
        expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(world.scratch)
      })
    )
  )

  describe("scratch lifecycle", () => {
    it.live("scratch is removed after success and after failure", () =>
      quiet(
        Effect.gen(function* () {
          const ok = makeSpec(world)
          const failed = makeSpec(world, { env: { LOMI_TEST_EXIT_CODE: "9" } })
          expect((yield* runToExit(port, ok)).code).toBe(0)
          expect((yield* runToExit(port, failed)).code).toBe(9)
          expect(existsSync(runDirOf(world, ok))).toBe(false)
          expect(existsSync(runDirOf(world, failed))).toBe(false)
        })
      )
    )

    it.live("a kill ends the sandbox (grandchild included), commits nothing and removes the run dir", () =>
      quiet(
        Effect.gen(function* () {
          const patientId = freshPatient(world)
          const spec = snippetSpec(
            world,
            `echo partial > "$LOMI_USER_DIR/$2/partial.txt"; bash -c "exec -a lomi-gc-$1 sleep 100000" & echo STARTED; while true; do sleep 3600; done`,
            { patientId }
          )
          const token = `lomi-gc-${spec.docId}`
          const scope = yield* Scope.make()
          const running = yield* Scope.extend(port.start(spec), scope)
          yield* eventually(Effect.sync(() => (pidsMatching(token).length === 1 ? true : undefined)))
          expect(existsSync(runDirOf(world, spec))).toBe(true)
          yield* Scope.close(scope, Exit.void)
          const exit = yield* running.exit
          expect(exit.code === 0).toBe(false)
          yield* eventually(
            Effect.sync(() => (pidsMatching(token).length === 0 && groupPids(running.pid ?? -1).length === 0 ? true : undefined))
          )
          expect(existsSync(path.join(world.user, patientId, "partial.txt"))).toBe(false)
          expect(readLog(spec)).toContain(`new ${world.user}/${patientId}/partial.txt`)
          expect(existsSync(runDirOf(world, spec))).toBe(false)
        })
      )
    )

    it.live("a directory replaced by a file (and the reverse) is committed on exit 0", () =>
      silent(
        Effect.gen(function* () {
          const patientId = freshPatient(world)
          const spec = snippetSpec(
            world,
            'rm -r "$LOMI_BASE_DIR/$2/sub" && echo file > "$LOMI_BASE_DIR/$2/sub" && rm "$LOMI_BASE_DIR/$2/input.txt" && mkdir "$LOMI_BASE_DIR/$2/input.txt"',
            { patientId }
          )
          expect(yield* runToExit(port, spec)).toEqual({ code: 0, signal: null })
          expect(readFileSync(path.join(world.base, patientId, "sub"), "utf8")).toBe("file\n")
          expect(lstatSync(path.join(world.base, patientId, "input.txt")).isDirectory()).toBe(true)
          expect(existsSync(runDirOf(world, spec))).toBe(false)
        })
      )
    )

    it.live("a missing script or an unsafe patient id is a SpawnError and leaves no scratch", () =>
      quiet(
        Effect.gen(function* () {
          const missing = makeSpec(world, { script: path.join(world.root, "nope.sh") })
          const e1 = yield* Effect.flip(Effect.scoped(port.start(missing)))
          expect(e1.message).toBe(`pipeline script not found: ${missing.script}`)
          const unsafe = makeSpec(world, { patientId: "a/b" })
          const e2 = yield* Effect.flip(Effect.scoped(port.start(unsafe)))
          expect(e2._tag).toBe("SpawnError")
          expect(existsSync(runDirOf(world, missing))).toBe(false)
          expect(existsSync(runDirOf(world, unsafe))).toBe(false)
        })
      )
    )

    it.live("a bwrap that cannot start is a SpawnError and the scratch is removed", () =>
      quiet(
        Effect.gen(function* () {
          const broken = makeSandboxExecutor({ ...options, bwrapPath: path.join(world.root, "no-bwrap") })
          const spec = makeSpec(world)
          const error = yield* Effect.flip(Effect.scoped(broken.start(spec)))
          expect(error.message).toContain("ENOENT")
          expect(existsSync(runDirOf(world, spec))).toBe(false)
        })
      )
    )

    it.live("sweepStale removes leftover run-* dirs only, and never a live run's", () =>
      quiet(
        Effect.gen(function* () {
          const sweepWorld = makeWorld()
          const sweeper = makeSandboxExecutor(sandboxOptions(sweepWorld))
          mkdirSync(path.join(sweepWorld.scratch, "run-777", "base", "P1"), { recursive: true })
          writeFileSync(path.join(sweepWorld.scratch, "run-777", "base", "P1", "x"), "x")
          mkdirSync(path.join(sweepWorld.scratch, "run-778"), { recursive: true })
          mkdirSync(path.join(sweepWorld.scratch, "keep-me"), { recursive: true })
          const live = makeSpec(sweepWorld, { script: testScript("hang.sh") })
          const removed = yield* Effect.scoped(
            Effect.gen(function* () {
              yield* sweeper.start(live)
              const removed = yield* sweeper.sweepStale
              expect(existsSync(runDirOf(sweepWorld, live))).toBe(true)
              return removed
            })
          )
          expect(removed).toBe(2)
          expect(existsSync(path.join(sweepWorld.scratch, "run-777"))).toBe(false)
          expect(existsSync(path.join(sweepWorld.scratch, "keep-me"))).toBe(true)
          expect(yield* sweeper.sweepStale).toBe(0)
          sweepWorld.cleanup()
        })
      )
    )

    it.live("the sandbox dies with its parent process; the next sweep removes its scratch", () =>
      quiet(
        Effect.gen(function* () {
          const parentWorld = makeWorld()
          const opts = sandboxOptions(parentWorld, { killGrace: 500 })
          const spec = makeSpec(parentWorld, { script: testScript("fork-grandchild.sh") })
          const token = `lomi-gc-${spec.docId}`
          const child = spawn(process.execPath, ["--import", "tsx", path.join(repoRoot, "test/process/sandbox-parent.ts"), JSON.stringify({ options: opts, spec })], {
            cwd: repoRoot,
            stdio: ["ignore", "pipe", "inherit"]
          })
          const started = yield* Deferred.make<number, Error>()
          let out = ""
          child.stdout.on("data", (chunk: Buffer) => {
            out += chunk.toString()
            const m = /STARTED (\d+)/.exec(out)
            if (m) Deferred.unsafeDone(started, Exit.succeed(Number(m[1])))
            if (out.includes("FAILED")) Deferred.unsafeDone(started, Exit.fail(new Error(out)))
          })
          const bwrapPid = yield* Deferred.await(started).pipe(Effect.timeout(Duration.seconds(30)))
          yield* eventually(Effect.sync(() => (pidsMatching(token).length === 1 ? true : undefined)))
          expect(alive(bwrapPid)).toBe(true)
          child.kill("SIGKILL")
          yield* eventually(Effect.sync(() => (!alive(bwrapPid) && pidsMatching(token).length === 0 ? true : undefined)))
          // The namespace's init and the pipeline are SIGKILLed by the kernel as bwrap goes; their exit is asynchronous.
          yield* eventually(Effect.sync(() => (groupPids(bwrapPid).length === 0 ? true : undefined)), Duration.seconds(30))
          expect(existsSync(runDirOf(parentWorld, spec))).toBe(true)
          expect(yield* makeSandboxExecutor(opts).sweepStale).toBe(1)
          expect(existsSync(runDirOf(parentWorld, spec))).toBe(false)
          parentWorld.cleanup()
        })
      )
    )
  })

  describe("layouts", () => {
    it.live("scratch on another filesystem (/dev/shm): staging copies, outputs still come back", () =>
      quiet(
        Effect.gen(function* () {
          const xfs = makeWorld("/var/tmp", "/dev/shm")
          seedPatient(xfs, "PX")
          const xport = makeSandboxExecutor(sandboxOptions(xfs))
          const spec = makeSpec(xfs, { script: testScript("write-outputs.sh"), patientId: "PX", service: "Epi-Insight" })
          expect((yield* runToExit(xport, spec)).code).toBe(0)
          expect(readFileSync(path.join(xfs.base, "PX", "out", "result.txt"), "utf8")).toBe(`base output of ${spec.docId}\n`)
          expect(readFileSync(path.join(xfs.user, "PX", "Epi-Insight", "summary.txt"), "utf8")).toBe(`user output of ${spec.docId}\n`)
          expect(statSync(path.join(xfs.base, "PX", "big.bin")).size).toBe(2 * MiB)
          expect(existsSync(runDirOf(xfs, spec))).toBe(false)
          xfs.cleanup()
        })
      )
    )

    it.live("everything under the host's /tmp (scratch, trees, runner script) still works", () =>
      quiet(
        Effect.gen(function* () {
          const tmp = makeWorld("/tmp")
          seedPatient(tmp, "PT")
          const script = path.join(tmp.root, "runner.sh")
          writeFileSync(script, readFileSync(testScript("write-outputs.sh")))
          const tport = makeSandboxExecutor(sandboxOptions(tmp))
          const spec = makeSpec(tmp, { script, patientId: "PT", service: "Gen-Decoder" })
          expect((yield* runToExit(tport, spec)).code).toBe(0)
          expect(readFileSync(path.join(tmp.user, "PT", "Gen-Decoder", "summary.txt"), "utf8")).toBe(`user output of ${spec.docId}\n`)
          expect(readLog(spec)).toContain("outputs written")
          tmp.cleanup()
        })
      )
    )

    it.live("a checkout under /tmp: the demo runners (with their lib/) succeed sandboxed, data dir hidden there too", () =>
      quiet(
        Effect.gen(function* () {
          const tmp = makeWorld("/tmp")
          seedPatient(tmp, "PD")
          cpSync(path.join(repoRoot, "fixtures/pipelines"), tmp.pipelines, { recursive: true })
          mkdirSync(path.join(tmp.root, "data"), { recursive: true })
          const tport = makeSandboxExecutor(sandboxOptions(tmp, { hidden: [path.join(tmp.root, "data")] }))
          for (const [runner, service] of [["run_gen_decoder.sh", "Gen-Decoder"], ["run_epi_insight.sh", "Epi-Insight"], ["run_omni_health.sh", "Omni-Health"]] as const) {
            const spec = makeSpec(tmp, {
              script: path.join(tmp.pipelines, runner),
              patientId: "PD",
              service,
              env: { LOMI_DEMO_SECONDS: "0" },
              logFile: path.join(tmp.root, "data", "logs", `${service}.log`)
            })
            expect(yield* runToExit(tport, spec)).toEqual({ code: 0, signal: null })
            expect(readFileSync(path.join(tmp.user, "PD", service, "result.json"), "utf8")).toContain(`"doc":"${spec.docId}"`)
          }
          tmp.cleanup()
        })
      )
    )

    it.live("demo runners work sandboxed: the temp-fail counter (in the cache) and the edited OCR (a hidden data-dir file named in env)", () =>
      quiet(
        Effect.gen(function* () {
          const patientId = freshPatient(world)
          const ocr = path.join(world.root, "data", "ocr-edited.json")
          mkdirSync(path.dirname(ocr), { recursive: true })
          writeFileSync(ocr, '{"edited":"yes"}\n')
          const env = { LOMI_DEMO_SECONDS: "0", LOMI_DEMO_OUTCOME: "tempfail:1", LOMI_OCR_FILE: ocr }
          const first = makeSpec(world, { script: demoScript("run_omni_health.sh"), service: "Omni-Health", patientId, env })
          expect((yield* runToExit(port, first)).code).toBe(75)
          const second = makeSpec(world, { script: demoScript("run_omni_health.sh"), service: "Omni-Health", patientId, env })
          expect((yield* runToExit(port, second)).code).toBe(0)
          expect(readFileSync(path.join(world.user, patientId, "Omni-Health", "ocr.json"), "utf8")).toBe('{"edited":"yes"}\n')
          expect(readLog(second)).toContain("edited-OCR re-run")
        })
      )
    )
  })
})
