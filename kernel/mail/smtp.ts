/**
 * The live mail port: nodemailer over SMTP, configured from `StaticConfig.mail`.
 *
 * A send can never block its caller for long: nodemailer's own connection,
 * greeting and socket timeouts end a stuck session, and an Effect timeout
 * around the whole send bounds it even when the server trickles bytes just
 * fast enough to keep the socket alive. A timed-out send is abandoned, not
 * retried: the caller logs it as `failed`.
 */
import { Duration, Effect, Layer, type Scope } from "effect"
import type { Transporter } from "nodemailer"
import type { StaticConfig } from "../../schemas/config.ts"
import { MailError, Mailer, type MailerShape, type MailMessage } from "../ports/mailer.ts"

export type MailConfig = StaticConfig["mail"]

export interface SmtpTimeouts {
  /** TCP (and TLS) connect. */
  readonly connectionTimeoutMs: number
  /** From connect to the server's 220 greeting. */
  readonly greetingTimeoutMs: number
  /** Inactivity on an open session. */
  readonly socketTimeoutMs: number
  /** The whole send, whatever the server does. */
  readonly sendTimeoutMs: number
}

export const DEFAULT_SMTP_TIMEOUTS: SmtpTimeouts = {
  connectionTimeoutMs: 10_000,
  greetingTimeoutMs: 10_000,
  socketTimeoutMs: 30_000,
  sendTimeoutMs: 60_000
}

const stringProp = (error: object, key: string): string | undefined => {
  const value: unknown = (error as Record<string, unknown>)[key]
  return typeof value === "string" || typeof value === "number" ? String(value) : undefined
}

/** nodemailer's error text, with its code (`EENVELOPE`, `ETIMEDOUT`, …) and the server's reply when it has one. */
export const describeSmtpError = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const code = stringProp(error, "code")
  const response = stringProp(error, "response")
  const parts = [code !== undefined ? `${code}: ${error.message}` : error.message]
  if (response !== undefined && !error.message.includes(response)) parts.push(`server said: ${response}`)
  return parts.join("; ")
}

export const makeSmtpMailer = (
  config: MailConfig,
  timeouts: Partial<SmtpTimeouts> = {}
): Effect.Effect<MailerShape, never, Scope.Scope> =>
  Effect.gen(function* () {
    const t: SmtpTimeouts = { ...DEFAULT_SMTP_TIMEOUTS, ...timeouts }
    const server = `${config.host}:${config.port}`
    // nodemailer is loaded with the first message, not at start-up: it was a tenth of the kernel's module
    // loading, and most starts send no mail for a while. The transport is closed with the scope if it was made.
    let made: Transporter | undefined
    yield* Effect.addFinalizer(() => Effect.sync(() => made?.close()))
    const transport = yield* Effect.cached(
      Effect.promise(async () => {
        const nodemailer = (await import("nodemailer")).default
        made = nodemailer.createTransport({
          host: config.host,
          port: config.port,
          secure: config.secure,
          ignoreTLS: config.ignoreTLS,
          ...(config.user !== undefined ? { auth: { user: config.user, pass: config.password ?? "" } } : {}),
          connectionTimeout: t.connectionTimeoutMs,
          greetingTimeout: t.greetingTimeoutMs,
          socketTimeout: t.socketTimeoutMs
        })
        return made
      })
    )

    const send = Effect.fn("Mailer.send")(function* (message: MailMessage) {
      const smtp = yield* transport
      const info = yield* Effect.tryPromise({
        try: () =>
          smtp.sendMail({
            from: config.from,
            to: [...message.to],
            subject: message.subject,
            text: message.text,
            html: message.html
          }),
        catch: (error) => new MailError({ message: `SMTP send via ${server} failed: ${describeSmtpError(error)}` })
      }).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(t.sendTimeoutMs),
          onTimeout: () => new MailError({ message: `SMTP send via ${server} timed out after ${t.sendTimeoutMs} ms` })
        })
      )
      // nodemailer succeeds when at least one recipient was accepted; the rest are only reported.
      const rejected: ReadonlyArray<string> = info.rejected ?? []
      if (rejected.length > 0) {
        yield* Effect.logWarning("SMTP server rejected some recipients").pipe(
          Effect.annotateLogs({ rejected: rejected.join(", "), subject: message.subject })
        )
      }
    })

    return { send } satisfies MailerShape
  })

/** The live `Mailer`; the transport is closed when the layer's scope closes. */
export const SmtpMailerLive = (config: MailConfig, timeouts: Partial<SmtpTimeouts> = {}): Layer.Layer<Mailer> =>
  Layer.scoped(Mailer, makeSmtpMailer(config, timeouts))
