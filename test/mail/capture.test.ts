import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { CapturedMail, CaptureMailerLive } from "../../kernel/mail/capture.ts"
import { Mailer, type MailMessage } from "../../kernel/ports/mailer.ts"

const msg = (subject: string): MailMessage => ({ to: ["lab@lab.test"], subject, text: subject, html: `<p>${subject}</p>` })

describe("capturing mailer", () => {
  it.effect("records delivered messages in order", () =>
    Effect.gen(function* () {
      const mailer = yield* Mailer
      const captured = yield* CapturedMail
      yield* mailer.send(msg("one"))
      yield* mailer.send(msg("two"))
      expect((yield* captured.messages).map((m) => m.subject)).toEqual(["one", "two"])
      yield* captured.clear
      expect(yield* captured.messages).toEqual([])
    }).pipe(Effect.provide(CaptureMailerLive()))
  )

  it.effect("can be told to fail, and to recover", () =>
    Effect.gen(function* () {
      const mailer = yield* Mailer
      const captured = yield* CapturedMail
      yield* captured.setFailure("smtp down")
      const error = yield* Effect.flip(mailer.send(msg("lost")))
      expect(error).toMatchObject({ _tag: "MailError", message: "smtp down" })
      yield* captured.setFailure(undefined)
      yield* mailer.send(msg("sent"))
      expect((yield* captured.messages).map((m) => m.subject)).toEqual(["sent"])
      expect((yield* captured.attempts).map((a) => [a.message.subject, a.delivered])).toEqual([
        ["lost", false],
        ["sent", true]
      ])
    }).pipe(Effect.provide(CaptureMailerLive()))
  )

  it.effect("can start failing", () =>
    Effect.gen(function* () {
      const mailer = yield* Mailer
      const error = yield* Effect.flip(mailer.send(msg("x")))
      expect(error.message).toBe("refused")
      expect(yield* (yield* CapturedMail).messages).toEqual([])
    }).pipe(Effect.provide(CaptureMailerLive({ failWith: "refused" })))
  )
})
