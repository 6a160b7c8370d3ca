/**
 * Notifier: sends the three emails and logs every attempt as ok / failed /
 * skipped. It has its own mailbox so a slow or refusing SMTP server never
 * holds up a job transition; a send failure is logged, never raised.
 */
import { Effect, Either } from "effect"
import { AppConfig } from "../kernel/config.ts"
import { EventBus } from "../kernel/events.ts"
import { render } from "../kernel/mail/templates.ts"
import { type NotifyRequest, NotifierMailbox } from "../kernel/mailboxes.ts"
import { Mailer } from "../kernel/ports/mailer.ts"
import { RunFiles } from "../kernel/runFiles.ts"
import { NotificationLog } from "../kernel/store/notifications.ts"
import { TunableStore } from "../kernel/store/tunables.ts"
import { actorLayer } from "../kernel/supervise.ts"

const LOG_TAIL_LINES = 20

const notifier = Effect.gen(function* () {
  const mailbox = yield* NotifierMailbox
  const mailer = yield* Mailer
  const config = yield* AppConfig
  const log = yield* NotificationLog
  const tunables = yield* TunableStore
  const events = yield* EventBus
  const files = yield* RunFiles

  const send = (request: NotifyRequest) =>
    Effect.gen(function* () {
      const recipients = config.mail.recipients[request.template]
      const enabled = (yield* tunables.get).EMAIL_ENABLED === 1
      const record = (status: "ok" | "failed" | "skipped", error: string | null) =>
        log
          .record({ template: request.template, docId: request.context.docId, recipients, status, error })
          .pipe(Effect.zipRight(events.publish({ _tag: "email", template: request.template, doc: request.context.docId, status })))
      if (!enabled) return yield* record("skipped", "EMAIL_ENABLED=0")
      if (recipients.length === 0) return yield* record("skipped", "no recipients configured")
      const message = render(request.template, {
        ...request.context,
        lastLogLines: [...(yield* files.tail(request.logFile, LOG_TAIL_LINES))],
        dashboardUrl: config.mail.dashboardUrl
      })
      const sent = yield* Effect.either(mailer.send({ to: recipients, ...message }))
      if (Either.isLeft(sent)) {
        yield* Effect.logWarning(`${request.template} email for ${request.context.docId} failed: ${sent.left.message}`)
        return yield* record("failed", sent.left.message)
      }
      return yield* record("ok", null)
    })

  return yield* mailbox.serve(send)
})

export const NotifierLive = actorLayer("notifier", notifier)
