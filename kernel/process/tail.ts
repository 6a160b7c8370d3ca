/**
 * Live tail of a run log (for the dashboard's SSE stream).
 *
 * `tailLines(file)` emits the file's current lines, then every line appended
 * while it grows, polling on a Schedule. A partial last line is held back
 * until its newline arrives (or until the tail stops, when it is flushed).
 * A file that does not exist yet is waited for; a file that shrinks
 * (truncated or replaced) is read again from the start. The stream never ends
 * on its own unless `stopWhen` is given: then, once `stopWhen` yields true, a
 * final read drains what is left and the stream completes.
 */
import { promises as fs } from "node:fs"
import { StringDecoder } from "node:string_decoder"
import { Chunk, Duration, Effect, Schedule, Stream } from "effect"

export interface TailOptions {
  /** Poll interval. Default 250 ms. */
  readonly interval?: Duration.DurationInput
  /** Checked before each poll; true ends the stream after one last read. */
  readonly stopWhen?: Effect.Effect<boolean>
  /** Largest read per poll, so a huge log is streamed in pieces. Default 1 MiB. */
  readonly maxReadBytes?: number
}

interface TailState {
  position: number
  partial: string
  decoder: StringDecoder
}

const readNew = async (file: string, state: TailState, maxReadBytes: number): Promise<Array<string>> => {
  let handle: fs.FileHandle
  try {
    handle = await fs.open(file, "r")
  } catch {
    return []
  }
  try {
    const { size } = await handle.stat()
    if (size < state.position) {
      state.position = 0
      state.partial = ""
      state.decoder = new StringDecoder("utf8")
    }
    const lines: Array<string> = []
    while (state.position < size) {
      const length = Math.min(maxReadBytes, size - state.position)
      const buffer = Buffer.alloc(length)
      const { bytesRead } = await handle.read(buffer, 0, length, state.position)
      if (bytesRead === 0) break
      state.position += bytesRead
      const text = state.partial + state.decoder.write(buffer.subarray(0, bytesRead))
      const parts = text.split("\n")
      state.partial = parts.pop() ?? ""
      for (const line of parts) lines.push(line.endsWith("\r") ? line.slice(0, -1) : line)
    }
    return lines
  } finally {
    await handle.close()
  }
}

export const tailLines = (file: string, options: TailOptions = {}): Stream.Stream<string> =>
  Stream.suspend(() => {
    const state: TailState = { position: 0, partial: "", decoder: new StringDecoder("utf8") }
    const maxReadBytes = options.maxReadBytes ?? 1024 * 1024
    const interval = Duration.decode(options.interval ?? Duration.millis(250))
    const stopWhen = options.stopWhen ?? Effect.succeed(false)
    const poll = Effect.gen(function* () {
      const stop = yield* stopWhen
      const lines = yield* Effect.promise(() => readNew(file, state, maxReadBytes))
      if (stop) {
        const last = state.partial + state.decoder.end()
        state.partial = ""
        if (last !== "") lines.push(last)
      }
      return { lines: Chunk.fromIterable(lines), stop }
    })
    return Stream.repeatEffectWithSchedule(poll, Schedule.spaced(interval)).pipe(
      Stream.takeUntil((step) => step.stop),
      Stream.mapConcatChunk((step) => step.lines)
    )
  })
