/**
 * A run's record on disk, `<dataDir>/exechost/runs/<runId>/`:
 *
 *   spec.json    the attempt and its launcher (host, before the monitor starts)
 *   monitor      "pid startTime" of the monitor (the fork server, before the host learns the pid)
 *   pids         "monitorPid monitorStartTime pipelinePgid" (the monitor)
 *   exit         the raw exit (the monitor, as its last act): not synced when the run has an exit
 *                slot (`exitSlot` in spec.json; exitSlots.ts), where the monitor made it durable
 *                first; synced otherwise (no slot, or hosts before 2026-11-29's second pass)
 *   final.json   a Lost outcome, written atomically before it is reported (not fsynced); an
 *                Exited one is not written: finishing again from `exit` gives the same outcome.
 *                (Hosts before 2026-11-29 wrote both kinds; still read.)
 *
 * The directory is renamed to `<dataDir>/exechost/acked/<runId>-…` when the
 * kernel acknowledges the run (so `runs/` holds unacknowledged runs only, at
 * once), and removed from there beside the host (host.ts). Start time
 * (field 22 of /proc/<pid>/stat) guards every pid against reuse.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { PipelineSpecSchema, RawExitSchema, RunStatusSchema } from "../../schemas/exechost.ts"
import { SLOT_BYTES } from "./exitSlots.ts"

export const runsRoot = (dataDir: string) => path.join(dataDir, "exechost", "runs")
/** Acknowledged record dirs waiting for their removal: beside `runs/`, on the same file system (one rename). */
export const ackedRoot = (runs: string) => path.join(path.dirname(runs), "acked")
export const runDir = (root: string, runId: number) => path.join(root, String(runId))

/** Where the monitor records the exit durably (exitSlots.ts): the slot, and the token its record starts with. */
export const ExitSlotRef = Schema.Struct({ index: Schema.Int, token: Schema.String })
export type ExitSlotRef = typeof ExitSlotRef.Type

export const RunRecord = Schema.Struct({
  spec: PipelineSpecSchema,
  sandbox: Schema.Boolean,
  startedAt: Schema.String,
  graceMs: Schema.Number,
  exitSlot: Schema.optional(ExitSlotRef)
})
export type RunRecord = typeof RunRecord.Type

const FinalRecord = Schema.Union(
  Schema.TaggedStruct("Exited", { exit: RunStatusSchema.members[1].fields.exit }),
  Schema.TaggedStruct("Lost", { message: Schema.String })
)
export type FinalRecord = typeof FinalRecord.Type

const readText = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/** A decoder from JSON text, built once: building `parseJson(schema)` on every read was most of a read's garbage. */
const jsonDecoder = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(Schema.parseJson(schema))
  return (text: string | undefined): A | undefined => {
    if (text === undefined) return undefined
    const decoded = decode(text)
    return decoded._tag === "Right" ? decoded.right : undefined
  }
}
const decodeRecord = jsonDecoder(RunRecord)
const decodeRawExit = jsonDecoder(RawExitSchema)
const decodeFinal = jsonDecoder(FinalRecord)
const encodeRecord = Schema.encodeSync(RunRecord)
const encodeFinal = Schema.encodeSync(FinalRecord)

export const readRecord = (dir: string) => decodeRecord(readText(path.join(dir, "spec.json")))
export const readRawExit = (dir: string) => decodeRawExit(readText(path.join(dir, "exit")))
export const readFinal = (dir: string) => decodeFinal(readText(path.join(dir, "final.json")))
export const hasRawExit = (dir: string) => fs.existsSync(path.join(dir, "exit"))

/** The exit in slot `ref.index` of `slotsFile` when the slot holds this run's record ("<token>\n<exit>\n", NUL-padded). */
export const readExitSlot = (slotsFile: string, ref: ExitSlotRef) => {
  const record = Buffer.alloc(SLOT_BYTES)
  try {
    const fd = fs.openSync(slotsFile, "r")
    try {
      fs.readSync(fd, record, 0, SLOT_BYTES, ref.index * SLOT_BYTES)
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    return undefined
  }
  const end = record.indexOf(0)
  const text = record.toString("utf8", 0, end < 0 ? SLOT_BYTES : end)
  const newline = text.indexOf("\n")
  if (newline < 0 || text.slice(0, newline) !== ref.token) return undefined
  return decodeRawExit(text.slice(newline + 1))
}

/**
 * The run's raw exit: its exit file, else its slot. After a machine crash the (unsynced) exit file
 * may be missing or empty while the slot, synced before anyone was told, has it.
 */
export const readExit = (dir: string, record: RunRecord, slotsFile: string) =>
  readRawExit(dir) ?? (record.exitSlot === undefined ? undefined : readExitSlot(slotsFile, record.exitSlot))

export interface MonitorPids {
  readonly pid: number
  readonly startTime: string
  readonly pgid?: number | undefined
}

/** The monitor's own `pids` when written, else what the host recorded at spawn. */
export const readMonitor = (dir: string): MonitorPids | undefined => {
  const fields = (readText(path.join(dir, "pids")) ?? readText(path.join(dir, "monitor")))?.trim().split(" ")
  if (fields === undefined || fields.length < 2) return undefined
  const pid = Number(fields[0])
  const pgid = fields[2] === undefined ? undefined : Number(fields[2])
  return Number.isInteger(pid) && pid > 0 ? { pid, startTime: fields[1] ?? "", pgid } : undefined
}

/** Distinct temp names, so two writers of the same (idempotent) record never rename each other's file away. */
let tempSequence = 0

/** Temp file, (fsync), rename, (fsync dir): readers see the old file or the whole new one. */
export const writeAtomic = (file: string, text: string, durable: boolean): Effect.Effect<void, Error> =>
  Effect.tryPromise({
    try: async () => {
      tempSequence += 1
      const tmp = `${file}.${process.pid}.${tempSequence}.tmp`
      const handle = await fs.promises.open(tmp, "w")
      try {
        await handle.writeFile(text)
        if (durable) await handle.sync()
      } finally {
        await handle.close()
      }
      await fs.promises.rename(tmp, file)
      if (durable) {
        const dir = await fs.promises.open(path.dirname(file), "r")
        try {
          await dir.sync()
        } finally {
          await dir.close()
        }
      }
    },
    catch: (error) => (error instanceof Error ? error : new Error(String(error)))
  })

/**
 * Written in place, no temp file and rename: it is complete before any monitor is asked for, and a
 * record cut short by a crash (unreadable) has no monitor, so adoption removes it as a Start that never ran.
 */
export const writeRecord = (dir: string, record: RunRecord) =>
  Effect.try({
    try: () => {
      fs.mkdirSync(dir, { recursive: true })
      fs.writeFileSync(path.join(dir, "spec.json"), JSON.stringify(encodeRecord(record)))
    },
    catch: (error) => (error instanceof Error ? error : new Error(String(error)))
  })

/** A Lost outcome, written atomically before it is reported (see host.ts: finishing a Lost run again would signal its group again). */
export const writeFinal = (dir: string, final: FinalRecord) =>
  Effect.try({
    try: () => {
      tempSequence += 1
      const file = path.join(dir, "final.json")
      const tmp = `${file}.${process.pid}.${tempSequence}.tmp`
      fs.writeFileSync(tmp, JSON.stringify(encodeFinal(final)))
      fs.renameSync(tmp, file)
    },
    catch: (error) => (error instanceof Error ? error : new Error(String(error)))
  })

/** A record dir holds four or five small files: removed synchronously (an async recursive rm costs a round trip per entry). */
export const removeRun = (dir: string) =>
  Effect.sync(() => {
    try {
      fs.rmSync(dir, { recursive: true, force: true })
    } catch {
      // Left for the next start-up's adoption pass.
    }
  })

/** Run ids with a record dir. */
export const listRuns = (root: string): ReadonlyArray<number> => {
  let names: Array<string>
  try {
    names = fs.readdirSync(root)
  } catch {
    return []
  }
  return names.filter((n) => /^\d+$/.test(n)).map(Number)
}
