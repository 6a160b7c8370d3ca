/**
 * Cleanup (rule 13): daily at 03:00 server-local time, delete terminal rows
 * past their retention and prune the OCR cache and notifications log.
 * Active rows and holds are never touched. A timer posts to the actor's own
 * mailbox so the run itself is ordinary, observable work.
 */
import { Clock, Cron, Duration, Effect, Either } from "effect"
import { AppConfig } from "../kernel/config.ts"
import { EventBus } from "../kernel/events.ts"
import { type Mailbox, makeMailbox } from "../kernel/mailbox.ts"
import { JobStore } from "../kernel/store/jobs.ts"
import { NotificationLog } from "../kernel/store/notifications.ts"
import { OcrCache } from "../kernel/store/ocrCache.ts"
import { TunableStore } from "../kernel/store/tunables.ts"
import { actorLayer } from "../kernel/supervise.ts"
import { isoFromMillis } from "../kernel/time.ts"

export const runCleanup = Effect.gen(function* () {
  const jobs = yield* JobStore
  const notifications = yield* NotificationLog
  const ocr = yield* OcrCache
  const t = yield* (yield* TunableStore).get
  const now = yield* Clock.currentTimeMillis
  const cutoff = (days: number) => isoFromMillis(now - days * 86_400_000)
  const rows = yield* jobs.deleteExpired(t)
  const ocrRows = yield* ocr.pruneBefore(cutoff(t.RETENTION_OCR_CACHE_DAYS))
  const mails = yield* notifications.pruneBefore(cutoff(t.RETENTION_NOTIFICATIONS_DAYS))
  yield* Effect.logInfo(`cleanup: ${rows} job rows, ${ocrRows} OCR cache entries, ${mails} notifications removed`)
  yield* (yield* EventBus).publish({ _tag: "cleanup", rows, ocr_cache: ocrRows, notifications: mails })
  return { rows, ocrRows, mails }
})

export const dailyAt3 = (timezone: string) => Cron.parse("0 3 * * *", timezone)

const cleanup = Effect.gen(function* () {
  const config = yield* AppConfig
  const parsed = dailyAt3(config.timezone)
  if (Either.isLeft(parsed)) return yield* Effect.dieMessage(`timezone ${config.timezone}: ${parsed.left.message}`)
  const cron = parsed.right
  const mailbox: Mailbox<"run"> = yield* makeMailbox<"run">(16)

  const armNext = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const next = Cron.next(cron, new Date(now)).getTime()
    yield* Effect.sleep(Duration.millis(next - now))
    yield* mailbox.post("run")
  })

  yield* Effect.forkScoped(Effect.forever(armNext))
  return yield* mailbox.serve(() => runCleanup)
}).pipe(Effect.scoped)

export const CleanupLive = actorLayer("cleanup", cleanup)
