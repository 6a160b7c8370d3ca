/**
 * Run dirs made ahead (`poolSize`, the execution host's launcher): each start
 * renames one fresh pooled dir into its place, no dir is handed to two runs,
 * none is ever a used one (a discarded run's writes never reach a later run),
 * and the pool of a host that is gone is removed by the next recover.
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import type { ProcessPortShape } from "../../kernel/ports/process.ts"
import { makeSandboxExecutor } from "../../kernel/process/sandbox.ts"
import { makeSandboxLauncher } from "../../kernel/process/sandbox/launcher.ts"
import { eventually, makeSpec, makeWorld, quiet, readLog, runToExit, sandboxOptions, testScript, type World } from "./helpers.ts"

const POOL = 2
/** The dirs a pooled run dir holds, as the launcher makes them. */
const CHILDREN = ["upper-base", "work-base", "shell-base", "upper-user", "work-user", "shell-user"]

const pooled = (world: World): Array<string> => readdirSync(world.scratch).filter((n) => n.startsWith(".pool-"))
/** Inodes of the pooled dirs once the pool is full and each holds all its (empty) children. */
const fullPool = (world: World) =>
  eventually(
    Effect.sync(() => {
      const names = pooled(world)
      if (names.length !== POOL) return undefined
      for (const n of names) {
        const inside = readdirSync(path.join(world.scratch, n)).sort()
        if (inside.join() !== [...CHILDREN].sort().join()) return undefined
        for (const c of CHILDREN) if (readdirSync(path.join(world.scratch, n, c)).length !== 0) return undefined
      }
      return new Set(names.map((n) => statSync(path.join(world.scratch, n)).ino))
    }),
    Duration.seconds(30)
  )

describe("sandbox run dirs made ahead (poolSize)", () => {
  let world: World
  let port: ProcessPortShape
  beforeAll(() => {
    world = makeWorld()
    mkdirSync(path.join(world.base, "P001"), { recursive: true })
    writeFileSync(path.join(world.base, "P001", "input.txt"), "real\n")
    port = makeSandboxExecutor(sandboxOptions(world, { poolSize: POOL }))
  })
  afterAll(() => world.cleanup())

  it.live("two concurrent starts each take a different pooled dir, and the pool is refilled with fresh ones", () =>
    quiet(
      Effect.gen(function* () {
        // The first start fills the pool (it has none yet).
        expect((yield* runToExit(port, makeSpec(world))).code).toBe(0)
        const before = yield* fullPool(world)
        const hold = (doc: string) => `while [ ! -e "$HOME/.cache/go-${doc}" ]; do sleep 0.05; done`
        const a = makeSpec(world, { script: testScript("snippet.sh") })
        const b = makeSpec(world, { script: testScript("snippet.sh") })
        const specs = [a, b].map((s) => ({ ...s, env: { LOMI_TEST_SNIPPET: hold(s.docId) } }))
        const runs = yield* Effect.fork(Effect.all(specs.map((s) => runToExit(port, s)), { concurrency: 2 }))
        const runDirs = specs.map((s) => path.join(world.scratch, `run-${s.runId}`))
        const inodes = yield* eventually(
          Effect.sync(() => {
            try {
              return runDirs.map((d) => statSync(d).ino)
            } catch {
              return undefined
            }
          }),
          Duration.seconds(30)
        )
        for (const s of specs) writeFileSync(path.join(world.cache, `go-${s.docId}`), "")
        const exits = yield* runs.await.pipe(Effect.flatten)
        expect(exits.map((e) => e.code)).toEqual([0, 0])
        expect(new Set(inodes).size).toBe(2)
        for (const ino of inodes) expect(before.has(ino)).toBe(true)
        const after = yield* fullPool(world)
        for (const ino of inodes) expect(after.has(ino)).toBe(false)
      })
    )
  )

  it.live("a discarded run's writes never reach a later run: pooled dirs are only ever fresh", () =>
    quiet(
      Effect.gen(function* () {
        for (let i = 0; i < 3; i++) {
          const spec = makeSpec(world, { script: testScript("snippet.sh"), env: { LOMI_TEST_SNIPPET: `echo secret-${i} > "$LOMI_BASE_DIR/$2/left-${i}.txt"; exit 3` } })
          expect((yield* runToExit(port, spec)).code).toBe(3)
        }
        const probe = makeSpec(world, { script: testScript("snippet.sh"), env: { LOMI_TEST_SNIPPET: 'ls -A "$LOMI_BASE_DIR/$2" | sed "s/^/SEE /"' } })
        expect((yield* runToExit(port, probe)).code).toBe(0)
        expect(readLog(probe).split("\n").filter((l) => l.startsWith("SEE "))).toEqual(["SEE input.txt"])
      })
    )
  )

  it.live("recover removes the pool a gone host left, and keeps this host's own", () =>
    quiet(
      Effect.gen(function* () {
        const launcher = makeSandboxLauncher(sandboxOptions(world, { poolSize: POOL }))
        const stale = path.join(world.scratch, ".pool-999999999-1")
        mkdirSync(path.join(stale, "upper-base"), { recursive: true })
        writeFileSync(path.join(stale, "upper-base", "x"), "old")
        const mine = pooled(world).filter((n) => n.startsWith(`.pool-${process.pid}-`))
        yield* launcher.recover(new Set())
        expect(pooled(world)).not.toContain(".pool-999999999-1")
        for (const n of mine) expect(pooled(world)).toContain(n)
      })
    )
  )
})
