/**
 * The host's records on disk (kernel/exechost/records.ts) and what a restart
 * makes of them:
 * - the fork server records each monitor (`monitor`: pid and start time) before Start is answered;
 * - an Exited outcome is not written (no `final.json`): the next host reports the same outcome,
 *   computed again from the monitor's `exit`, or, when a crash lost that unsynced file, from the
 *   run's exit slot (synced by the monitor before it said anything; read only with the run's token);
 * - a Lost outcome is written (`final.json`) before it is reported, and the next host reports it as is;
 * - Acknowledge takes the record out of `runs/` at once (the kernel lists unacknowledged runs there),
 *   and its removal from `acked/` follows beside the host; a start removes what a dead host left there;
 *   a sandboxed run's scratch dir goes the same way (renamed at once, removed beside the host).
 */
import { describe, expect, it } from "@effect/vitest"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Exit, Scope } from "effect"
import { clientOf, control, inProcessHost, specFor, tempRoot, tryKill, waitUntil } from "./support.ts"

const runs = (dataDir: string) => join(dataDir, "exechost", "runs")
const acked = (dataDir: string) => join(dataDir, "exechost", "acked")
const runDir = (dataDir: string, runId: number) => join(runs(dataDir), String(runId))

describe("execution host records", () => {
  it.scopedLive("an Exited outcome is reported again by the next host without a final.json; Acknowledge empties runs/ at once, acked/ soon after", () =>
    Effect.gen(function* () {
      const t = yield* tempRoot
      const ctl = control(t)
      ctl.exitWith("doc-301", 4)
      const first = yield* Scope.make()
      yield* inProcessHost(t.config).pipe(Scope.extend(first))
      const before = yield* clientOf(t.config).pipe(Scope.extend(first))
      const started = yield* before.start(specFor(t, 301))
      const pid = started._tag === "Running" ? started.pid : undefined
      // Written by the fork server before the answer: "<monitor pid> <start time>".
      expect(readFileSync(join(runDir(t.config.dataDir, 301), "monitor"), "utf8")).toMatch(new RegExp(`^${pid} \\d+\\n$`))
      expect(yield* before.awaitExit(301)).toEqual({ _tag: "Exited", exit: { code: 4, signal: null } })
      expect(existsSync(join(runDir(t.config.dataDir, 301), "final.json"))).toBe(false)
      yield* Scope.close(first, Exit.void)

      yield* inProcessHost(t.config)
      const after = yield* clientOf(t.config)
      expect(yield* after.awaitExit(301)).toEqual({ _tag: "Exited", exit: { code: 4, signal: null } })
      const unacknowledged = after.unacknowledged ?? Effect.dieMessage("the host's client lists unacknowledged runs")
      expect(yield* unacknowledged).toEqual([301])
      yield* after.acknowledge(301)
      expect(readdirSync(runs(t.config.dataDir))).toEqual([])
      expect(yield* unacknowledged).toEqual([])
      expect((yield* after.status([301])).get(301)).toEqual({ _tag: "Unknown" })
      yield* waitUntil("acked/ to empty", () => readdirSync(acked(t.config.dataDir)).length === 0)
    })
  )

  it.scopedLive("an exit kept only in its slot (the unsynced exit file lost, as a machine crash may) is reported by the next host; another run's record in the slot is not", () =>
    Effect.gen(function* () {
      const t = yield* tempRoot
      const ctl = control(t)
      ctl.exitWith("doc-305", 6)
      ctl.exitWith("doc-306", 0)
      const slots = join(t.config.dataDir, "exechost", "exits")
      const first = yield* Scope.make()
      yield* inProcessHost(t.config).pipe(Scope.extend(first))
      const before = yield* clientOf(t.config).pipe(Scope.extend(first))
      yield* before.start(specFor(t, 305))
      yield* before.start(specFor(t, 306))
      expect(yield* before.awaitExit(305)).toEqual({ _tag: "Exited", exit: { code: 6, signal: null } })
      expect(yield* before.awaitExit(306)).toEqual({ _tag: "Exited", exit: { code: 0, signal: null } })
      yield* Scope.close(first, Exit.void)

      const slotOf = (runId: number) => {
        const record = JSON.parse(readFileSync(join(runDir(t.config.dataDir, runId), "spec.json"), "utf8")) as { startedAt: string; exitSlot: { index: number; token: string } }
        expect(record.exitSlot.token).toBe(`${runId}@${record.startedAt}`)
        return record.exitSlot
      }
      const [a, b] = [slotOf(305), slotOf(306)]
      // The first two slots of a new file, one per run until acknowledged.
      expect([a.index, b.index].sort()).toEqual([0, 1])
      const file = readFileSync(slots)
      expect(file.length).toBe(256 * 512)
      expect(file.subarray(a.index * 512, a.index * 512 + 512).toString("utf8").replace(/\0+$/, "")).toBe(`${a.token}\n{"code":6,"signal":null,"timedOut":false}\n`)
      for (const runId of [305, 306]) rmSync(join(runDir(t.config.dataDir, runId), "exit"))
      // 306's slot now holds another run's record (a slot reused after that run's acknowledgement).
      const other = Buffer.alloc(512)
      other.write(`999@2026-01-01T00:00:00.000Z\n{"code":0,"signal":null,"timedOut":false}\n`)
      writeFileSync(slots, Buffer.concat([file.subarray(0, b.index * 512), other, file.subarray(b.index * 512 + 512)]))

      yield* inProcessHost(t.config)
      const after = yield* clientOf(t.config)
      expect(yield* after.awaitExit(305)).toEqual({ _tag: "Exited", exit: { code: 6, signal: null } })
      expect((yield* after.awaitExit(306))._tag).toBe("Lost")
      // Acknowledged runs free their slots: the next run takes one of them, the file does not grow.
      yield* after.acknowledge(305)
      yield* after.acknowledge(306)
      ctl.exitWith("doc-307", 0)
      yield* after.start(specFor(t, 307))
      expect([0, 1]).toContain(slotOf(307).index)
      expect(readFileSync(slots).length).toBe(256 * 512)
      expect(yield* after.awaitExit(307)).toEqual({ _tag: "Exited", exit: { code: 0, signal: null } })
    })
  )

  it.scopedLive("a Lost outcome is on disk before it is reported, and the next host reports the same", () =>
    Effect.gen(function* () {
      const t = yield* tempRoot
      const ctl = control(t)
      ctl.gate("doc-302")
      const first = yield* Scope.make()
      yield* inProcessHost(t.config).pipe(Scope.extend(first))
      const before = yield* clientOf(t.config).pipe(Scope.extend(first))
      const started = yield* before.start(specFor(t, 302))
      yield* waitUntil("the pipeline", () => ctl.pid("doc-302", 1) !== undefined)
      tryKill(started._tag === "Running" ? (started.pid ?? 0) : 0, "SIGKILL")
      const lost = yield* before.awaitExit(302)
      expect(lost._tag).toBe("Lost")
      expect(JSON.parse(readFileSync(join(runDir(t.config.dataDir, 302), "final.json"), "utf8"))).toEqual(lost)
      yield* Scope.close(first, Exit.void)

      yield* inProcessHost(t.config)
      const after = yield* clientOf(t.config)
      expect(yield* after.awaitExit(302)).toEqual(lost)
    })
  )

  it.scopedLive("acknowledged records a dead host left in acked/ are removed at the next start, and runs/ is left alone", () =>
    Effect.gen(function* () {
      const t = yield* tempRoot
      const left = join(acked(t.config.dataDir), "303-1-1")
      mkdirSync(left, { recursive: true })
      writeFileSync(join(left, "spec.json"), "{}")
      writeFileSync(join(left, "exit"), "{}")
      yield* inProcessHost(t.config)
      yield* waitUntil("the leftover to go", () => !existsSync(left))
      expect(readdirSync(runs(t.config.dataDir))).toEqual([])
    })
  )

  it.scopedLive("a sandboxed run: Acknowledge leaves neither its record nor its scratch dir behind", () =>
    Effect.gen(function* () {
      const t = yield* tempRoot
      const ctl = control(t)
      ctl.exitWith("doc-304", 0)
      yield* inProcessHost(t.config)
      const client = yield* clientOf(t.config, true)
      yield* client.start(specFor(t, 304))
      expect(yield* client.awaitExit(304)).toEqual({ _tag: "Exited", exit: { code: 0, signal: null } })
      // Beside it only the host's run dirs made ahead for the next starts (`.pool-*`).
      const runDirs = () => readdirSync(t.config.sandbox.scratchRoot).filter((n) => !n.startsWith(".pool-"))
      expect(runDirs()).toEqual(["run-304"])
      yield* client.acknowledge(304)
      expect(readdirSync(runs(t.config.dataDir))).toEqual([])
      yield* waitUntil("scratch and acked/ to empty", () =>
        runDirs().length === 0 && readdirSync(acked(t.config.dataDir)).length === 0
      )
    }),
    120_000
  )
})
