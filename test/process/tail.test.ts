/** tailLines: current content first, then appended lines, on a real growing file. */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Fiber, Ref, Stream } from "effect"
import { tailLines } from "../../kernel/process/tail.ts"
import { eventually } from "./helpers.ts"

describe("tailLines", () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "lomi-tail-"))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const interval = Duration.millis(10)

  /** Collects the stream into a Ref in the background. */
  const collect = (stream: Stream.Stream<string>) =>
    Effect.gen(function* () {
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const fiber = yield* Effect.fork(Stream.runForEach(stream, (line) => Ref.update(seen, (xs) => [...xs, line])))
      const until = (n: number) => eventually(Effect.map(Ref.get(seen), (xs) => (xs.length >= n ? xs : undefined)))
      return { seen, fiber, until }
    })

  it.live("starts with the current content, then follows appended lines", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "grow.log")
      writeFileSync(file, "one\ntwo\n")
      const { fiber, until } = yield* collect(tailLines(file, { interval }))
      expect(yield* until(2)).toEqual(["one", "two"])
      appendFileSync(file, "three\n")
      appendFileSync(file, "four\r\n")
      expect(yield* until(4)).toEqual(["one", "two", "three", "four"])
      yield* Fiber.interrupt(fiber)
    })
  )

  it.live("holds a partial line back until its newline arrives, across multi-byte characters", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "partial.log")
      writeFileSync(file, "")
      const { seen, fiber, until } = yield* collect(tailLines(file, { interval, maxReadBytes: 3 }))
      appendFileSync(file, "hal")
      yield* Effect.sleep(Duration.millis(60))
      expect(yield* Ref.get(seen)).toEqual([])
      appendFileSync(file, "f ✓ done\nnext\n")
      expect(yield* until(2)).toEqual(["half ✓ done", "next"])
      yield* Fiber.interrupt(fiber)
    })
  )

  it.live("waits for a file that does not exist yet", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "later.log")
      const { fiber, until } = yield* collect(tailLines(file, { interval }))
      yield* Effect.sleep(Duration.millis(50))
      writeFileSync(file, "finally\n")
      expect(yield* until(1)).toEqual(["finally"])
      yield* Fiber.interrupt(fiber)
    })
  )

  it.live("reads again from the start when the file is truncated", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "trunc.log")
      writeFileSync(file, "old line 1\nold line 2\n")
      const { fiber, until } = yield* collect(tailLines(file, { interval }))
      yield* until(2)
      writeFileSync(file, "new\n")
      expect(yield* until(3)).toEqual(["old line 1", "old line 2", "new"])
      yield* Fiber.interrupt(fiber)
    })
  )

  it.live("stopWhen ends the stream after a final read, flushing a last unterminated line", () =>
    Effect.gen(function* () {
      const file = path.join(dir, "stop.log")
      writeFileSync(file, "a\n")
      const done = yield* Ref.make(false)
      const fiber = yield* Effect.fork(Stream.runCollect(tailLines(file, { interval, stopWhen: Ref.get(done) })))
      yield* Effect.sleep(Duration.millis(50))
      appendFileSync(file, "b\nno newline")
      yield* Ref.set(done, true)
      const lines = yield* Fiber.join(fiber)
      expect(Chunk.toReadonlyArray(lines)).toEqual(["a", "b", "no newline"])
    })
  )
})
