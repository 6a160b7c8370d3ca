/** The mail port: one message out over SMTP (or captured, in replays and unit tests). */
import { Context, Data, type Effect } from "effect"

export class MailError extends Data.TaggedError("MailError")<{ readonly message: string }> {}

export interface MailMessage {
  readonly to: ReadonlyArray<string>
  readonly subject: string
  readonly text: string
  readonly html: string
}

export interface MailerShape {
  readonly send: (message: MailMessage) => Effect.Effect<void, MailError>
}

export class Mailer extends Context.Tag("kernel/Mailer")<Mailer, MailerShape>() {}
