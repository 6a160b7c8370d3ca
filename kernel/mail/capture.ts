/**
 * A `Mailer` that sends nothing and remembers every message, for replays and
 * unit tests. It can be told to fail, to exercise the `failed` path of the
 * notifications log.
 */
import { Context, Effect, Layer, Ref } from "effect"
import { MailError, Mailer, type MailerShape, type MailMessage } from "../ports/mailer.ts"

export interface CapturedMailShape {
  /** Messages "delivered" so far, in send order (failed sends are not in here). */
  readonly messages: Effect.Effect<ReadonlyArray<MailMessage>>
  /** Every send attempt, delivered or not, in order. */
  readonly attempts: Effect.Effect<ReadonlyArray<{ readonly message: MailMessage; readonly delivered: boolean }>>
  /** From now on every send fails with this text; `undefined` makes sends succeed again. */
  readonly setFailure: (message: string | undefined) => Effect.Effect<void>
  readonly clear: Effect.Effect<void>
}

export class CapturedMail extends Context.Tag("kernel/mail/CapturedMail")<CapturedMail, CapturedMailShape>() {}

export interface CaptureOptions {
  /** Start in failing mode with this error text. */
  readonly failWith?: string
}

export const makeCaptureMailer = (
  options: CaptureOptions = {}
): Effect.Effect<{ readonly mailer: MailerShape; readonly captured: CapturedMailShape }> =>
  Effect.gen(function* () {
    const attempts = yield* Ref.make<ReadonlyArray<{ readonly message: MailMessage; readonly delivered: boolean }>>([])
    const failure = yield* Ref.make<string | undefined>(options.failWith)

    const send = (message: MailMessage): Effect.Effect<void, MailError> =>
      Ref.get(failure).pipe(
        Effect.flatMap((failWith) =>
          Ref.update(attempts, (all) => [...all, { message, delivered: failWith === undefined }]).pipe(
            Effect.zipRight(failWith === undefined ? Effect.void : Effect.fail(new MailError({ message: failWith })))
          )
        )
      )

    const captured: CapturedMailShape = {
      messages: Ref.get(attempts).pipe(Effect.map((all) => all.filter((a) => a.delivered).map((a) => a.message))),
      attempts: Ref.get(attempts),
      setFailure: (message) => Ref.set(failure, message),
      clear: Ref.set(attempts, [])
    }
    return { mailer: { send }, captured }
  })

/** Provides both the `Mailer` and the `CapturedMail` handle that reads what it got. */
export const CaptureMailerLive = (options: CaptureOptions = {}): Layer.Layer<Mailer | CapturedMail> =>
  Layer.effectContext(
    makeCaptureMailer(options).pipe(
      Effect.map(({ captured, mailer }) => Context.make(Mailer, mailer).pipe(Context.add(CapturedMail, captured)))
    )
  )
