/** The store on a real temporary SQLite file, with the event bus it publishes to. */
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { EventBus } from "../../kernel/events.ts"
import { storeLayer } from "../../kernel/runtime.ts"
import type { NewRun } from "../../kernel/store/jobs.ts"

export const tempDbFile = () => join(mkdtempSync(join(tmpdir(), "lomi-store-")), "allocator.db")

export const removeDb = (file: string) => rmSync(join(file, ".."), { recursive: true, force: true })

/** A fresh store per test: `it.layer` can't give each test its own file, so tests provide this. */
export const freshStore = () => {
  const file = tempDbFile()
  return storeLayer(file).pipe(
    Layer.provideMerge(EventBus.Default),
    Layer.orDie,
    Layer.merge(Layer.scopedDiscard(Effect.addFinalizer(() => Effect.sync(() => removeDb(file)))))
  )
}

export const arrival = (docId: string, overrides: Partial<NewRun> = {}): NewRun => ({
  docId,
  service: "Epi-Insight",
  patientId: "P1",
  patientName: null,
  collectionDate: null,
  state: "queued",
  attempt: 1,
  scheduledRunAt: "2026-01-01T00:00:00.000Z",
  notes: null,
  ...overrides
})
