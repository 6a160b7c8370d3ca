/**
 * Rule 12 on the dashboard: while the allocator is in outage mode the
 * Firestore health check says so too, so the health panel and the header
 * (state cards' `outage`) never disagree; once Firestore is back both say ok.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import { eventually, serverLayer, signIn } from "./support.ts"

interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

layer(serverLayer(), { excludeTestServices: true })("outage on the dashboard", (it) => {
  it.effect("the health panel and the header agree during an outage and after it", () =>
    Effect.gen(function* () {
      const viewer = yield* signIn("viewer")
      const firestoreCheck = Effect.map(viewer.get("/api/health"), (r) => {
        const body = r.body as { checks?: ReadonlyArray<Check> } | ReadonlyArray<Check>
        const checks = Array.isArray(body) ? body : ((body as { checks?: ReadonlyArray<Check> }).checks ?? [])
        return checks.find((c) => c.name === "firestore")
      })
      const header = Effect.map(viewer.get("/api/state-cards"), (r) => (r.body as { outage: boolean }).outage)
      // Warm the cache with an "ok" result first: the outage must override a cached ok.
      expect((yield* firestoreCheck)?.ok).toBe(true)
      const fs = yield* MemoryFirestore
      yield* fs.setOutage(true)
      yield* eventually(header, (down) => (down ? true : undefined), "20 seconds")
      const during = yield* firestoreCheck
      expect(during?.ok).toBe(false)
      expect(during?.detail).toBe("Firestore unreachable: the allocator is in outage mode")
      yield* fs.setOutage(false)
      yield* eventually(header, (down) => (down ? undefined : true), "20 seconds")
      expect((yield* firestoreCheck)?.ok).toBe(true)
    })
  )
})
