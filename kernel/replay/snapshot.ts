/** The replay result's pieces: trace entries and snapshots, with stable key order. */
import { Effect } from "effect"
import type { AllocatorEvent } from "../../schemas/events.ts"
import { MemoryFirestore } from "../firestore/memory.ts"
import { HoldStore } from "../store/holds.ts"
import { JobStore } from "../store/jobs.ts"

export type TraceEntry = { readonly at: string; readonly kind: string } & Readonly<Record<string, unknown>>

export const toTraceEntry = (event: AllocatorEvent): TraceEntry => {
  const { _tag, at, ...fields } = event
  return { at, kind: _tag, ...fields }
}

export interface ReplaySnapshot {
  readonly runs: ReadonlyArray<Readonly<Record<string, unknown>>>
  readonly holds: ReadonlyArray<{ readonly doc_id: string; readonly state: string }>
  readonly firestore: Readonly<Record<string, unknown>>
  readonly emails: ReadonlyArray<{ readonly template: string; readonly doc: string | null; readonly status: string }>
}

export const takeSnapshot = (emails: ReadonlyArray<AllocatorEvent>) =>
  Effect.gen(function* () {
    const runs = yield* (yield* JobStore).all
    const holds = yield* (yield* HoldStore).all
    const reports = yield* (yield* MemoryFirestore).snapshotReports
    const snapshot: ReplaySnapshot = {
      runs: runs.map((r) => ({
        id: r.id,
        doc_id: r.doc_id,
        service: r.service,
        patient_id: r.patient_id,
        state: r.state,
        attempt: r.attempt,
        scheduled_run_at: r.scheduled_run_at,
        started_at: r.started_at,
        finished_at: r.finished_at,
        exit_code: r.exit_code,
        error_message: r.error_message,
        notes: r.notes,
        created_at: r.created_at,
        updated_at: r.updated_at
      })),
      holds: holds.map((h) => ({ doc_id: h.doc_id, state: h.state })),
      firestore: Object.fromEntries(reports.map((r) => [r.id, r.data])),
      emails: emails.flatMap((e) => (e._tag === "email" ? [{ template: e.template, doc: e.doc, status: e.status }] : []))
    }
    return snapshot
  })
