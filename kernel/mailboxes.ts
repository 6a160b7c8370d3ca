/**
 * Every actor's mailbox, owned by the kernel. An actor serves its own and
 * posts to others by Tag; no actor imports another.
 */
import { Context, Deferred, Effect, Layer } from "effect"
import type { CommandResult, OperatorCommand } from "../schemas/commands.ts"
import type { EmailContext, EmailTemplate } from "../schemas/email.ts"
import type { ReportChange } from "../schemas/report.ts"
import { type Mailbox, mailboxLayer, mergingMailboxLayer, type WakeMailbox } from "./mailbox.ts"

/** A command with the slot its owner answers in. */
export interface CommandEnvelope<C extends OperatorCommand = OperatorCommand> {
  readonly command: C
  readonly user: string
  readonly reply: Deferred.Deferred<CommandResult>
}

export interface NotifyRequest {
  readonly template: EmailTemplate
  /** The notifier adds the dashboard link. */
  readonly context: Omit<EmailContext, "dashboardUrl">
  /** The attempt's log, whose last lines the message quotes. */
  readonly logFile?: string
}

export type Wake = { readonly _tag: "Wake" }
export const wake: Wake = { _tag: "Wake" }

export class DispatcherMailbox extends Context.Tag("kernel/mailbox/Dispatcher")<DispatcherMailbox, Mailbox<ReportChange>>() {}
export class PromoterMailbox extends Context.Tag("kernel/mailbox/Promoter")<PromoterMailbox, WakeMailbox<Wake>>() {}
export class WorkerMailbox extends Context.Tag("kernel/mailbox/Workers")<WorkerMailbox, WakeMailbox<Wake>>() {}
export class KillMailbox extends Context.Tag("kernel/mailbox/Kill")<KillMailbox, Mailbox<CommandEnvelope>>() {}
export class JobCommandMailbox extends Context.Tag("kernel/mailbox/JobCommands")<JobCommandMailbox, Mailbox<CommandEnvelope>>() {}
export class HoldMailbox extends Context.Tag("kernel/mailbox/Holds")<HoldMailbox, Mailbox<CommandEnvelope>>() {}
export class NotifierMailbox extends Context.Tag("kernel/mailbox/Notifier")<NotifierMailbox, Mailbox<NotifyRequest>>() {}

export const MailboxesLive = Layer.mergeAll(
  mailboxLayer(DispatcherMailbox),
  // Wakes only: merged while one waits (mailbox.ts).
  mergingMailboxLayer(PromoterMailbox),
  mergingMailboxLayer(WorkerMailbox),
  mailboxLayer(KillMailbox),
  mailboxLayer(JobCommandMailbox),
  mailboxLayer(HoldMailbox),
  mailboxLayer(NotifierMailbox)
)

/** Posts a command to its owner and waits for the answer. */
export const ask = <C extends OperatorCommand>(mailbox: Mailbox<CommandEnvelope>, command: C, user: string) =>
  Effect.gen(function* () {
    const reply = yield* Deferred.make<CommandResult>()
    yield* mailbox.post({ command, user, reply })
    return yield* Deferred.await(reply)
  })
