import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { makeSmtpMailer, SmtpMailerLive } from "../../kernel/mail/smtp.ts"
import { render } from "../../kernel/mail/templates.ts"
import { Mailer, type MailMessage } from "../../kernel/ports/mailer.ts"
import { mailConfig, parseMail, startSilentServer, startSmtpServer } from "./support.ts"

const failure = render("permanent_failure", {
  docId: "rep-0042",
  service: "Epi-Insight",
  patientId: "P0017",
  patientName: "Ada Lovelace",
  attempt: 3,
  errorMessage: "exit code 2",
  lastLogLines: ["step 4/7: aligning", "ERROR: reference <hg38> missing & gone"],
  dashboardUrl: "http://dash.test:8080"
})

const message = (to: ReadonlyArray<string>): MailMessage => ({ to, ...failure })

describe("SMTP mailer", () => {
  it.scopedLive("delivers subject, text and HTML with doc id, patient and dashboard link to every recipient", () =>
    Effect.gen(function* () {
      const server = yield* startSmtpServer()
      yield* Effect.gen(function* () {
        const mailer = yield* Mailer
        yield* mailer.send(message(["lab@lab.test", "ops@lab.test"]))
      }).pipe(Effect.provide(SmtpMailerLive(mailConfig(server.port))))

      expect(server.received).toHaveLength(1)
      const got = server.received[0]
      expect(got?.from).toBe("allocator@lab.test")
      expect(got?.to).toEqual(["lab@lab.test", "ops@lab.test"])
      const mail = parseMail(got?.raw ?? "")
      expect(mail.subject).toBe(failure.subject)
      expect(mail.subject).toContain("rep-0042")
      expect(mail.subject).toContain("P0017")
      expect(mail.headers).toMatch(/^From: Lomi Allocator <allocator@lab\.test>/m)
      expect(mail.headers).toMatch(/^To: lab@lab\.test, ops@lab\.test/m)
      for (const body of [mail.text, mail.html]) {
        expect(body).toContain("rep-0042")
        expect(body).toContain("P0017")
        expect(body).toContain("Ada Lovelace")
        expect(body).toContain("Epi-Insight")
        expect(body).toContain("http://dash.test:8080/#/doc/rep-0042")
      }
      expect(mail.text.replace(/\r\n/g, "\n")).toBe(failure.text)
      expect(mail.text).toContain("ERROR: reference <hg38> missing & gone")
      expect(mail.html).toContain("ERROR: reference &lt;hg38&gt; missing &amp; gone")
      expect(mail.html).toContain('<a href="http://dash.test:8080/#/doc/rep-0042">')
    })
  )

  it.scopedLive("several sends over one layer each arrive", () =>
    Effect.gen(function* () {
      const server = yield* startSmtpServer()
      const mailer = yield* makeSmtpMailer(mailConfig(server.port))
      yield* mailer.send(message(["a@lab.test"]))
      yield* mailer.send(message(["b@lab.test"]))
      expect(server.received.map((m) => m.to)).toEqual([["a@lab.test"], ["b@lab.test"]])
    })
  )

  it.scopedLive("a refused recipient is a MailError carrying the server's reply", () =>
    Effect.gen(function* () {
      const server = yield* startSmtpServer({
        onRcptTo(_address, _session, callback) {
          callback(Object.assign(new Error("no such mailbox here"), { responseCode: 550 }))
        }
      })
      const mailer = yield* makeSmtpMailer(mailConfig(server.port))
      const result = yield* Effect.either(mailer.send(message(["nobody@lab.test"])))
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left._tag).toBe("MailError")
        expect(result.left.message).toContain("550")
        expect(result.left.message).toContain("no such mailbox here")
        expect(result.left.message).toContain("EENVELOPE")
      }
      expect(server.received).toHaveLength(0)
    })
  )

  it.scopedLive("one refused recipient among several still delivers to the others", () =>
    Effect.gen(function* () {
      const server = yield* startSmtpServer({
        onRcptTo(address, _session, callback) {
          callback(address.address === "gone@lab.test" ? Object.assign(new Error("gone"), { responseCode: 550 }) : null)
        }
      })
      const mailer = yield* makeSmtpMailer(mailConfig(server.port))
      yield* mailer.send(message(["gone@lab.test", "lab@lab.test"]))
      expect(server.received.map((m) => m.to)).toEqual([["lab@lab.test"]])
    })
  )

  it.scopedLive("a refused message body is a MailError carrying the server's reply", () =>
    Effect.gen(function* () {
      const server = yield* startSmtpServer({ rejectData: "message looks like spam" })
      const mailer = yield* makeSmtpMailer(mailConfig(server.port))
      const error = yield* Effect.flip(mailer.send(message(["lab@lab.test"])))
      expect(error._tag).toBe("MailError")
      expect(error.message).toContain("554")
      expect(error.message).toContain("message looks like spam")
    })
  )

  it.scopedLive("no recipients is a MailError, not a silent success", () =>
    Effect.gen(function* () {
      const server = yield* startSmtpServer()
      const mailer = yield* makeSmtpMailer(mailConfig(server.port))
      const error = yield* Effect.flip(mailer.send(message([])))
      expect(error._tag).toBe("MailError")
      expect(server.received).toHaveLength(0)
    })
  )

  it.scopedLive("a server that accepts and never greets fails the send by nodemailer's greeting timeout", () =>
    Effect.gen(function* () {
      const { port } = yield* startSilentServer
      const mailer = yield* makeSmtpMailer(mailConfig(port), { greetingTimeoutMs: 300, sendTimeoutMs: 20_000 })
      const started = performance.now()
      const error = yield* Effect.flip(mailer.send(message(["lab@lab.test"])))
      expect(performance.now() - started).toBeLessThan(5_000)
      expect(error._tag).toBe("MailError")
      expect(error.message).toMatch(/greeting/i)
    })
  )

  it.scopedLive("the send timeout bounds a hanging server even when nodemailer's own timeouts are long", () =>
    Effect.gen(function* () {
      const { port } = yield* startSilentServer
      const mailer = yield* makeSmtpMailer(mailConfig(port), {
        connectionTimeoutMs: 60_000,
        greetingTimeoutMs: 60_000,
        socketTimeoutMs: 60_000,
        sendTimeoutMs: 400
      })
      const started = performance.now()
      const error = yield* Effect.flip(mailer.send(message(["lab@lab.test"])))
      expect(performance.now() - started).toBeLessThan(5_000)
      expect(error.message).toContain("timed out after 400 ms")
      expect(error.message).toContain(`127.0.0.1:${port}`)
    })
  )

  it.scopedLive("connection refused is a MailError", () =>
    Effect.gen(function* () {
      // Grab a free port, then close its server so nothing listens there.
      const port = yield* Effect.scoped(Effect.map(startSilentServer, (s) => s.port))
      const mailer = yield* makeSmtpMailer(mailConfig(port), { connectionTimeoutMs: 2_000 })
      const error = yield* Effect.flip(mailer.send(message(["lab@lab.test"])))
      expect(error.message).toMatch(/ECONNREFUSED|ECONNECTION/)
    })
  )
})
