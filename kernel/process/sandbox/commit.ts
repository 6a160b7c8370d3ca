/**
 * Committing a run's changes to the patient's real folders so that a crash at
 * any instant leaves, after `recoverJournal`, either the old tree or the new
 * one. The journal in the run dir is the single source of truth:
 *
 *   (no journal) ──write journal "planned"──▶ planned
 *   planned: each new entry is moved from upper to a temp name beside its
 *            target (`.lomi-new-<run>-<i>`; copied when on another filesystem)
 *   planned ──rewrite journal "applying"──▶ applying      ← the commit point
 *   applying: for each op, in order: the old entry is renamed aside
 *            (`.lomi-old-<run>-<i>`), the new one renamed into place
 *   applying: the old entries are removed; outcome.json written; journal removed
 *
 * Recovery: "planned" is rolled back (temps moved back into upper, or removed
 * when upper still has them), so `finish` can plan again from the same upper;
 * "applying" is rolled forward (every step checks the state it finds, so
 * repeating a step is harmless). Journal writes are write-temp, fsync, rename.
 */
import { closeSync, cpSync, fsyncSync, lstatSync, openSync, readFileSync, renameSync, rmSync, chmodSync, unlinkSync, writeSync } from "node:fs"
import type { Op } from "./changes.ts"

export interface Journal {
  readonly state: "planned" | "applying"
  readonly runId: number
  readonly ops: ReadonlyArray<Op>
}

const exists = (p: string): boolean => {
  try {
    lstatSync(p)
    return true
  } catch {
    return false
  }
}

const errnoOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : undefined

/** Writes `file` atomically (temp, rename); durably (fsync before the rename) unless `durable` is false. */
export const writeAtomic = (file: string, text: string, durable = true): void => {
  const temp = `${file}.tmp`
  const fd = openSync(temp, "w", 0o600)
  try {
    writeSync(fd, text)
    if (durable) fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(temp, file)
}

export const readJournal = (file: string): Journal | undefined => {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Journal
  } catch {
    return undefined
  }
}

/** Moves (or, across filesystems, copies) an entry; the source stays when copied. */
const moveOrCopy = (source: string, target: string): void => {
  try {
    renameSync(source, target)
  } catch (error) {
    if (errnoOf(error) !== "EXDEV") throw error
    const partial = `${target}.partial`
    rmSync(partial, { recursive: true, force: true })
    cpSync(source, partial, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true, errorOnExist: true, force: false })
    renameSync(partial, target)
  }
}

/** Hooks for the crash test: called between steps. */
export interface CommitProbe {
  readonly step?: (what: string) => void
}

const stage = (ops: ReadonlyArray<Op>, probe: CommitProbe) => {
  for (const op of ops) {
    if (op.kind !== "put" || exists(op.staged)) continue
    moveOrCopy(op.source, op.staged)
    probe.step?.(`staged ${op.target}`)
  }
}

const apply = (ops: ReadonlyArray<Op>, probe: CommitProbe) => {
  for (const op of ops) {
    if (op.kind === "put") {
      if (op.hadOld && exists(op.target) && !exists(op.backup) && exists(op.staged)) {
        renameSync(op.target, op.backup)
        probe.step?.(`set aside ${op.target}`)
      }
      if (exists(op.staged)) {
        renameSync(op.staged, op.target)
        probe.step?.(`put ${op.target}`)
      }
    } else if (op.kind === "delete") {
      if (exists(op.target) && !exists(op.backup)) {
        renameSync(op.target, op.backup)
        probe.step?.(`deleted ${op.target}`)
      }
    } else if (exists(op.target)) {
      chmodSync(op.target, op.mode)
    }
  }
  for (const op of ops) {
    if (op.kind === "mode") continue
    rmSync(op.backup, { recursive: true, force: true })
    probe.step?.(`removed old ${op.target}`)
  }
}

/** Rolls a planned (not yet applying) commit back: the real trees return to what they were, upper to what the run left. */
const rollBack = (ops: ReadonlyArray<Op>) => {
  for (const op of [...ops].reverse()) {
    if (op.kind !== "put") continue
    rmSync(`${op.staged}.partial`, { recursive: true, force: true })
    if (!exists(op.staged)) continue
    if (exists(op.source)) rmSync(op.staged, { recursive: true, force: true })
    else moveOrCopy(op.staged, op.source)
  }
}

/**
 * Runs a commit from scratch: journal, stage, commit point, apply. `done` is
 * called after apply, before the journal goes (it writes outcome.json).
 */
export const runCommit = (journalFile: string, runId: number, ops: ReadonlyArray<Op>, done: () => void, probe: CommitProbe = {}): void => {
  writeAtomic(journalFile, JSON.stringify({ state: "planned", runId, ops } satisfies Journal))
  probe.step?.("journal planned")
  stage(ops, probe)
  writeAtomic(journalFile, JSON.stringify({ state: "applying", runId, ops } satisfies Journal))
  probe.step?.("journal applying")
  apply(ops, probe)
  done()
  unlinkSync(journalFile)
}

/**
 * Finishes or rolls back an interrupted commit. Returns "committed" when the
 * commit went through (then `done` ran again), "rolled-back", or "none".
 */
export const recoverJournal = (journalFile: string, done: () => void): "committed" | "rolled-back" | "none" => {
  const journal = readJournal(journalFile)
  if (journal === undefined) {
    rmSync(`${journalFile}.tmp`, { force: true })
    return "none"
  }
  if (journal.state === "applying") {
    apply(journal.ops, {})
    done()
    unlinkSync(journalFile)
    return "committed"
  }
  rollBack(journal.ops)
  unlinkSync(journalFile)
  return "rolled-back"
}
