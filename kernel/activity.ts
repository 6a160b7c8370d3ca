/**
 * Counts messages that are posted but not yet fully handled, across every
 * mailbox. Production only reads it for metrics; the replay driver waits for
 * it to reach zero to know the system has settled at the current instant.
 */
import { Effect, Ref } from "effect"

export class Activity extends Effect.Service<Activity>()("kernel/Activity", {
  effect: Effect.gen(function* () {
    const pending = yield* Ref.make(0)
    return {
      pending: Ref.get(pending),
      begin: Ref.update(pending, (n) => n + 1),
      end: Ref.update(pending, (n) => n - 1)
    }
  })
}) {}
