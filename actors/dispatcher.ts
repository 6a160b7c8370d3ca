/**
 * Dispatcher (rules 2, 3, 8, 11): turns listener changes into job rows, one
 * change at a time.
 *
 * ADDED is decided by kernel/arrival.ts (dedup, cooldown, a report that
 * cannot run failed Firestore first, a stranded `received` row decided
 * again). REMOVED withdraws rows that have not started. MODIFIED changes no
 * state; it only refreshes the display fields of the document's active rows.
 */
import { Effect } from "effect"
import type { ReportChange } from "../schemas/report.ts"
import { arrive } from "../kernel/arrival.ts"
import { DispatcherMailbox } from "../kernel/mailboxes.ts"
import { JobStore } from "../kernel/store/jobs.ts"
import { actorLayer } from "../kernel/supervise.ts"

const optionalString = (v: unknown): string | null => (typeof v === "string" ? v : null)

const dispatch = Effect.gen(function* () {
  const mailbox = yield* DispatcherMailbox
  const jobs = yield* JobStore
  const context = yield* Effect.context<Effect.Effect.Context<ReturnType<typeof arrive>>>()

  const handle = (change: ReportChange) => {
    switch (change._tag) {
      case "Added":
        return arrive(change.id, change.data).pipe(Effect.provide(context))
      case "Modified":
        return jobs.refreshDisplay(change.id, {
          patientName: optionalString(change.data.patientName),
          collectionDate: optionalString(change.data.collectionDate)
        })
      case "Removed":
        return jobs.withdraw(change.id).pipe(
          Effect.tap((rows) =>
            rows.length > 0 ? Effect.logInfo(`report ${change.id} left Data Ready: withdrew ${rows.length} row(s)`) : Effect.void
          )
        )
    }
  }

  return yield* mailbox.serve((change) => handle(change).pipe(Effect.annotateLogs("doc", change.id)))
})

export const DispatcherLive = actorLayer("dispatcher", dispatch)
