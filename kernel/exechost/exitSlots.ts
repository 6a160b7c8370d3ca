/**
 * The monitors' exit slots: `<dataDir>/exechost/exits`, a file of 512-byte
 * slots, one per run from its Start until its Acknowledge. A monitor writes
 * its run's exit into its slot in place and fdatasyncs it (monitor.c): the
 * slot's blocks were written and synced when the file was made or grown, so
 * that sync is one device flush and no journal commit, where a new exit file
 * made durable costs a file sync and a directory sync, each a journal commit
 * (issue 12: about 5.5 ms against 1.8 ms on this machine's disk, on every
 * run's exit path). The exit file the monitor writes beside it (not synced)
 * is what the host reads and watches; the slot is what a crash leaves.
 *
 * A slot is read only with its run's token (run id and start time, in the
 * run's record), so a slot that held an earlier run's exit never passes for
 * this one's. A slot is taken for a run only when no unacknowledged run holds
 * it: an acknowledged run's monitor has written its exit and ended, so it
 * never writes again.
 */
import * as fs from "node:fs"
import * as path from "node:path"

export const SLOT_BYTES = 512
/** Slots made at a time: 128 KiB. Runs between Start and Acknowledge beyond this grow the file by as many again. */
const GROW_BY = 256

export interface ExitSlots {
  readonly file: string
  /** A free slot for a new run (the file grows, synced, when none is free). */
  readonly take: () => number
  /** A slot an adopted run holds (its record names it). */
  readonly hold: (index: number) => void
  /** The slot of an acknowledged run (or of a Start that failed), free again. */
  readonly release: (index: number) => void
}

/** `<dataDir>/exechost/exits`, beside `runs/`. */
export const exitSlotsFile = (runsRoot: string) => path.join(path.dirname(runsRoot), "exits")

/** Zeros written (not a hole, not fallocated: either would make the monitor's write a metadata change) and synced. */
const growTo = (file: string, slots: number): number => {
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644)
  try {
    const have = Math.floor(fs.fstatSync(fd).size / SLOT_BYTES)
    if (have >= slots) return have
    fs.writeSync(fd, Buffer.alloc((slots - have) * SLOT_BYTES), 0, (slots - have) * SLOT_BYTES, have * SLOT_BYTES)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  const dir = fs.openSync(path.dirname(file), "r")
  try {
    fs.fsyncSync(dir)
  } finally {
    fs.closeSync(dir)
  }
  return slots
}

export const openExitSlots = (file: string): ExitSlots => {
  let capacity = growTo(file, GROW_BY)
  let used = new Uint8Array(capacity)
  // Lowest first: the slots in use stay in the first pages of the file.
  let free: Array<number> = []
  for (let i = capacity - 1; i >= 0; i--) free.push(i)
  const grow = (atLeast: number) => {
    const before = capacity
    capacity = growTo(file, Math.max(atLeast, capacity + GROW_BY))
    const wider = new Uint8Array(capacity)
    wider.set(used)
    used = wider
    // Under the free ones already there: those are taken first.
    const added: Array<number> = []
    for (let i = capacity - 1; i >= before; i--) added.push(i)
    free = added.concat(free)
  }
  return {
    file,
    take: () => {
      for (;;) {
        const index = free.pop()
        if (index === undefined) {
          grow(capacity + 1)
          continue
        }
        if (used[index] === 1) continue
        used[index] = 1
        return index
      }
    },
    hold: (index) => {
      if (index >= capacity) grow(index + 1)
      used[index] = 1
    },
    release: (index) => {
      if (index >= capacity || used[index] === 0) return
      used[index] = 0
      free.push(index)
    }
  }
}
