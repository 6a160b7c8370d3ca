/**
 * The kernel chaos checker turns red: each invariant of invariants.ts on a
 * small hand-built good data set (no violation) and on the same set broken
 * the way a real bug would break it (exactly that invariant complains).
 */
import { describe, expect, it } from "vitest"
import { checkAll, type Marker, type Observed, parseMarker, type Row } from "./invariants.ts"

const row = (id: number, doc_id: string, attempt: number, state: string, notes: string | null = null): Row => ({
  id,
  doc_id,
  state,
  attempt,
  exit_code: null,
  notes,
  error_message: null
})

const marker = (run: number, doc: string, attempt: number, kind: Marker["kind"], pid = 1000 + run): Marker => ({ doc, run, attempt, pid, kind })

/**
 * a: temp-fail, fail, ok (attempts 1, 1, 2); b: fail twice (MAX_RETRIES 2) → failed_permanent, Firestore Failed;
 * c: hang killed by an operator → failed_permanent, Firestore Failed.
 */
const good: Observed = {
  docs: ["a", "b", "c"],
  rows: [
    row(1, "a", 1, "temp_failed"),
    row(2, "b", 1, "failed_retrying"),
    row(3, "a", 1, "failed_retrying"),
    row(4, "b", 2, "failed_permanent"),
    row(5, "a", 2, "succeeded"),
    row(6, "c", 1, "failed_permanent")
  ],
  firestore: new Map([
    ["a", "Data Ready"],
    ["b", "Failed"],
    ["c", "Failed"]
  ]),
  markers: [
    marker(1, "a", 1, "temp"),
    marker(2, "b", 1, "fail"),
    marker(3, "a", 1, "crash"),
    marker(4, "b", 2, "fail"),
    marker(5, "a", 2, "ok"),
    marker(6, "c", 1, "hang")
  ],
  exits: [
    { run: 1, code: 75, signal: null },
    { run: 5, code: 0, signal: null }
  ],
  sightings: [],
  leftovers: { processes: [], runRecords: [], scratch: [] },
  maxRetries: 2
}

const tags = (o: Observed) => [...new Set(checkAll(o).map((v) => v.slice(1, v.indexOf("]")).split(" ")[0]))]

const withRows = (edit: (rows: Array<Row>) => Array<Row>): Observed => ({ ...good, rows: edit([...good.rows]) })

describe("kernel chaos invariants", () => {
  it("a consistent data set passes every invariant", () => {
    expect(checkAll(good)).toEqual([])
  })

  it("1: two active rows for a document, or a sighting of two live pipelines, is a violation", () => {
    expect(tags(withRows((rows) => [...rows, row(7, "c", 1, "queued"), row(8, "c", 1, "running")]))).toContain("1")
    expect(tags({ ...good, sightings: [{ what: "two live pipelines", doc: "a", detail: "pids 10, 11" }] })).toEqual(["1"])
  })

  it("2: a run executed twice, or a failed attempt executed again, is a violation", () => {
    expect(tags({ ...good, markers: [...good.markers, marker(5, "a", 2, "ok", 4242)] })).toEqual(["2"])
    const rerun: Observed = {
      ...good,
      rows: [...good.rows.filter((r) => r.id !== 5), row(5, "a", 2, "failed_retrying"), row(7, "a", 2, "succeeded")],
      markers: [...good.markers.filter((m) => m.run !== 5), marker(5, "a", 2, "crash"), marker(7, "a", 2, "ok")]
    }
    expect(tags(rerun)).toContain("2")
  })

  it("3: an exit 0 whose row is not succeeded is a lost success", () => {
    const lost = withRows((rows) => rows.map((r) => (r.id === 5 ? row(5, "a", 2, "failed_permanent") : r)))
    expect(tags({ ...lost, firestore: new Map([...good.firestore, ["a", "Failed"]]) })).toContain("3")
    expect(tags({ ...good, exits: [...good.exits, { run: 3, code: 0, signal: null }] })).toEqual(["3"])
  })

  it("4: an attempt used without a pipeline failure (a crash victim) is a violation", () => {
    // The allocator's crash: attempt 1 of c ended failed_retrying with no pipeline run, attempt 2 ran.
    const crashVictim: Observed = {
      ...good,
      rows: [...good.rows.filter((r) => r.id !== 6), row(6, "c", 1, "failed_retrying"), row(7, "c", 2, "failed_permanent", "recovered")],
      markers: [...good.markers.filter((m) => m.run !== 6), marker(7, "c", 2, "hang")]
    }
    expect(tags(crashVictim)).toEqual(["4"])
    // A temp-fail that used an attempt.
    expect(tags(withRows((rows) => rows.map((r) => (r.id === 3 ? row(3, "a", 2, "failed_retrying") : r))))).toContain("4")
  })

  it("5: failed_permanent without Firestore Failed is a violation", () => {
    expect(tags({ ...good, firestore: new Map([...good.firestore, ["b", "Data Ready"]]) })).toEqual(["5"])
  })

  it("6: a process, run record or scratch dir left is a violation", () => {
    expect(tags({ ...good, leftovers: { processes: ["123 bash pipeline.sh c"], runRecords: [], scratch: [] } })).toEqual(["6"])
    expect(tags({ ...good, leftovers: { processes: [], runRecords: ["6"], scratch: ["run-6"] } })).toEqual(["6"])
  })

  it("a document never settled, or never given a row, is a violation", () => {
    expect(tags({ ...good, docs: [...good.docs, "d"] })).toEqual(["every"])
    expect(tags(withRows((rows) => [...rows.filter((r) => r.id !== 5), row(5, "a", 2, "running")]))).toContain("every")
  })

  it("markers are read from the pipeline's file names and contents", () => {
    expect(parseMarker("c-0001.r17.a2.p4242", "temp 0.25\n")).toEqual({ doc: "c-0001", run: 17, attempt: 2, pid: 4242, kind: "temp" })
    expect(parseMarker("c-0001.r17.a2.p4242.tmp", "ok 0")).toBeUndefined()
    expect(parseMarker("c-0001.r17.a2.p4242", "")).toBeUndefined()
  })
})
