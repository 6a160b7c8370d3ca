/**
 * The kernel chaos run's invariants (issue 11), as pure functions over what
 * the run observed, so a hand-built bad data set can prove each one turns red
 * (invariants.test.ts). Every function answers a list of violations, one line
 * each; an empty list is a pass.
 *
 * What the pipelines did is known from their markers (one file per
 * execution, holding the plan line it followed: see
 * fixtures/pipelines/chaos/pipeline.sh), never from the allocator's own records.
 */

export type Kind = "ok" | "fail" | "temp" | "crash" | "hang"

export const ACTIVE_STATES: ReadonlyArray<string> = ["received", "waiting_cooldown", "queued", "running"]

export interface Row {
  readonly id: number
  readonly doc_id: string
  readonly state: string
  readonly attempt: number
  readonly exit_code: number | null
  readonly notes: string | null
  readonly error_message: string | null
}

/** One execution of a pipeline: markers/<doc>.r<run>.a<attempt>.p<pid>, holding "<kind> <seconds>". */
export interface Marker {
  readonly doc: string
  readonly run: number
  readonly attempt: number
  readonly pid: number
  readonly kind: Kind
}

/** A run's exit as the execution host recorded it (<dataDir>/exechost/runs/<id>/exit), seen during the run. */
export interface ExitRecord {
  readonly run: number
  readonly code: number | null
  readonly signal: string | null
}

/** Seen while the run went on: a document with two live pipelines, or with two active rows. */
export interface Sighting {
  readonly what: "two live pipelines" | "two active rows"
  readonly doc: string
  readonly detail: string
}

export interface Observed {
  /** Every document written Data Ready. */
  readonly docs: ReadonlyArray<string>
  readonly rows: ReadonlyArray<Row>
  /** Firestore `status` per document at the end (undefined: no such document). */
  readonly firestore: ReadonlyMap<string, string | undefined>
  readonly markers: ReadonlyArray<Marker>
  readonly exits: ReadonlyArray<ExitRecord>
  readonly sightings: ReadonlyArray<Sighting>
  readonly leftovers: {
    readonly processes: ReadonlyArray<string>
    readonly runRecords: ReadonlyArray<string>
    readonly scratch: ReadonlyArray<string>
  }
  readonly maxRetries: number
}

const MARKER_NAME = /^(.+)\.r(\d+)\.a(\d+)\.p(\d+)$/
const KINDS: ReadonlyArray<Kind> = ["ok", "fail", "temp", "crash", "hang"]

/** Parses a marker file (name and contents); undefined for anything else (a temp file mid-rename). */
export const parseMarker = (name: string, contents: string): Marker | undefined => {
  const m = MARKER_NAME.exec(name)
  const kind = contents.trim().split(" ")[0]
  if (m === null || m[1] === undefined || !KINDS.some((k) => k === kind)) return undefined
  return { doc: m[1], run: Number(m[2]), attempt: Number(m[3]), pid: Number(m[4]), kind: kind as Kind }
}

const groupBy = <A>(items: ReadonlyArray<A>, key: (a: A) => string): Map<string, Array<A>> => {
  const out = new Map<string, Array<A>>()
  for (const item of items) {
    const k = key(item)
    const list = out.get(k)
    if (list === undefined) out.set(k, [item])
    else list.push(item)
  }
  return out
}

const rowText = (r: Row) => `#${r.id} ${r.doc_id} attempt ${r.attempt} ${r.state}${r.notes === null ? "" : ` (${r.notes})`}`

/** 1. No document with two active rows (at the end, or sighted during the run), never two live pipelines for one document. */
export const oneActivePerDocument = (o: Observed): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const [doc, rows] of groupBy(o.rows.filter((r) => ACTIVE_STATES.includes(r.state)), (r) => r.doc_id)) {
    if (rows.length > 1) out.push(`${doc}: ${rows.length} active rows at the end: ${rows.map(rowText).join(", ")}`)
  }
  for (const s of o.sightings) out.push(`${s.doc}: ${s.what} during the run: ${s.detail}`)
  return out
}

/**
 * 2. Every attempt executed at most once: one execution per row, and at one
 * attempt of a document only a temp-fail may be followed by another execution
 * (rule 5 re-runs a temp-failed attempt at the same number; nothing else does).
 */
export const executedAtMostOnce = (o: Observed): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const [run, ms] of groupBy(o.markers, (m) => String(m.run))) {
    if (ms.length > 1) out.push(`run ${run} (${ms[0]?.doc}) executed ${ms.length} times (pids ${ms.map((m) => m.pid).join(", ")})`)
  }
  for (const [key, ms] of groupBy(o.markers, (m) => `${m.doc} attempt ${m.attempt}`)) {
    const runs = [...new Set(ms.map((m) => m.run))].sort((a, b) => a - b)
    const byRun = new Map(ms.map((m) => [m.run, m]))
    for (const run of runs.slice(0, -1)) {
      const kind = byRun.get(run)?.kind
      if (kind !== "temp") out.push(`${key}: run ${run} ended ${kind} and the attempt was executed again`)
    }
  }
  return out
}

/** 3. No successful exit lost: a pipeline that exited 0 has its row succeeded. */
export const noSuccessLost = (o: Observed): ReadonlyArray<string> => {
  const out: Array<string> = []
  const byId = new Map(o.rows.map((r) => [r.id, r]))
  for (const m of o.markers.filter((x) => x.kind === "ok")) {
    const row = byId.get(m.run)
    if (row?.state !== "succeeded") out.push(`run ${m.run} (${m.doc}) exited 0 but its row is ${row === undefined ? "missing" : rowText(row)}`)
  }
  for (const e of o.exits.filter((x) => x.code === 0)) {
    const row = byId.get(e.run)
    if (row?.state !== "succeeded") out.push(`run ${e.run}: the host recorded exit 0 but its row is ${row === undefined ? "missing" : rowText(row)}`)
  }
  return out
}

/** The rows a pipeline's planned outcome may end in (rules 5 and 9); a hang ends only by an operator's kill. */
const endsFor = (kind: Kind, attempt: number, maxRetries: number): ReadonlyArray<string> => {
  switch (kind) {
    case "ok":
      return ["succeeded"]
    case "temp":
      return ["temp_failed"]
    case "fail":
    case "crash":
      return attempt < maxRetries ? ["failed_retrying"] : ["failed_permanent"]
    case "hang":
      return ["failed_permanent"]
  }
}

/**
 * 4. No attempt used by a crash of the allocator: a row ends as its
 * pipeline's planned outcome says, a row that ended without a pipeline ending
 * it is a crash victim, and the next row's attempt follows from the outcome
 * (temp-fail: the same; failure: +1; nothing after a success or a permanent failure).
 */
export const attemptsFollowOutcomes = (o: Observed): ReadonlyArray<string> => {
  const out: Array<string> = []
  const markerOf = new Map(o.markers.map((m) => [m.run, m]))
  for (const [doc, unsorted] of groupBy(o.rows, (r) => r.doc_id)) {
    const rows = [...unsorted].sort((a, b) => a.id - b.id)
    if (rows[0] !== undefined && rows[0].attempt !== 1) out.push(`${doc}: first row ${rowText(rows[0])} is not attempt 1`)
    rows.forEach((row, i) => {
      const marker = markerOf.get(row.id)
      const next = rows[i + 1]
      if (marker !== undefined) {
        if (marker.attempt !== row.attempt || marker.doc !== row.doc_id) {
          out.push(`${doc}: run ${row.id} executed as ${marker.doc} attempt ${marker.attempt}, row says ${rowText(row)}`)
        }
        const ends = endsFor(marker.kind, row.attempt, o.maxRetries)
        if (!ACTIVE_STATES.includes(row.state) && !ends.includes(row.state)) {
          out.push(`${doc}: run ${row.id}'s pipeline planned "${marker.kind}" but the row is ${rowText(row)} (expected ${ends.join(" or ")})`)
        }
      } else if (!ACTIVE_STATES.includes(row.state)) {
        // Nothing here ends a row without running it (no withdrawals, no unrunnable documents, Firestore up).
        out.push(`${doc}: ${rowText(row)} ended without its pipeline running (a crash used the attempt)`)
      }
      if (next === undefined) {
        if (row.state === "failed_retrying" || row.state === "temp_failed") out.push(`${doc}: ${rowText(row)} has no next row`)
        return
      }
      const expected = row.state === "temp_failed" ? row.attempt : row.state === "failed_retrying" ? row.attempt + 1 : undefined
      if (expected === undefined) out.push(`${doc}: ${rowText(next)} follows ${rowText(row)}`)
      else if (next.attempt !== expected) out.push(`${doc}: ${rowText(next)} follows ${rowText(row)} (expected attempt ${expected})`)
    })
  }
  return out
}

/** 5. Every failed_permanent row has Firestore status `Failed` (rule 6). */
export const permanentFailuresInFirestore = (o: Observed): ReadonlyArray<string> =>
  o.rows
    .filter((r) => r.state === "failed_permanent" && o.firestore.get(r.doc_id) !== "Failed")
    .map((r) => `${rowText(r)} but Firestore status is ${JSON.stringify(o.firestore.get(r.doc_id) ?? null)}`)

/** 6. Nothing left: no pipeline or monitor process, no unacknowledged run record, no scratch directory. */
export const nothingLeft = (o: Observed): ReadonlyArray<string> => [
  ...o.leftovers.processes.map((p) => `process left: ${p}`),
  ...o.leftovers.runRecords.map((r) => `run record left: ${r}`),
  ...o.leftovers.scratch.map((s) => `scratch dir left: ${s}`)
]

/** Settled: every document written has rows, and its newest row is succeeded or failed_permanent. */
export const everyDocumentSettled = (o: Observed): ReadonlyArray<string> => {
  const newest = new Map<string, Row>()
  for (const r of o.rows) if ((newest.get(r.doc_id)?.id ?? -1) < r.id) newest.set(r.doc_id, r)
  return o.docs.flatMap((doc) => {
    const row = newest.get(doc)
    if (row === undefined) return [`${doc}: written Data Ready but has no row`]
    return row.state === "succeeded" || row.state === "failed_permanent" ? [] : [`${doc}: not settled, newest ${rowText(row)}`]
  })
}

export const INVARIANTS = {
  "1 one active row and one live pipeline per document": oneActivePerDocument,
  "2 every attempt executed at most once": executedAtMostOnce,
  "3 no successful exit lost": noSuccessLost,
  "4 no attempt used by a crash of the allocator": attemptsFollowOutcomes,
  "5 failed_permanent has Firestore Failed": permanentFailuresInFirestore,
  "6 no orphan process, run record or scratch dir": nothingLeft,
  "every document settled": everyDocumentSettled
} as const

/** Every violation, prefixed with its invariant. */
export const checkAll = (o: Observed): ReadonlyArray<string> =>
  Object.entries(INVARIANTS).flatMap(([name, check]) => check(o).map((v) => `[${name}] ${v}`))
