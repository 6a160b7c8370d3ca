/** Real SMTP endpoints on loopback free ports, and just enough MIME parsing to read what they got. */
import * as net from "node:net"
import { Effect, type Scope } from "effect"
import { SMTPServer, type SMTPServerOptions } from "smtp-server"
import type { MailConfig } from "../../kernel/mail/smtp.ts"

export interface ReceivedMail {
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly raw: string
}

export interface TestSmtpServer {
  readonly port: number
  readonly received: ReadonlyArray<ReceivedMail>
}

const listen = (server: { listen: (port: number, host: string, cb: () => void) => unknown }, address: () => unknown) =>
  Effect.async<number>((resume) => {
    server.listen(0, "127.0.0.1", () => {
      const a = address()
      resume(Effect.succeed(typeof a === "object" && a !== null && "port" in a && typeof a.port === "number" ? a.port : 0))
    })
  })

/** An smtp-server on 127.0.0.1 without STARTTLS (its bundled certificate has expired) and without auth. */
export const startSmtpServer = (
  options: Pick<SMTPServerOptions, "onRcptTo" | "onMailFrom"> & {
    /** Refuse the message body with this error. */
    readonly rejectData?: string
  } = {}
): Effect.Effect<TestSmtpServer, never, Scope.Scope> =>
  Effect.gen(function* () {
    const received: Array<ReceivedMail> = []
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      ...(options.onRcptTo !== undefined ? { onRcptTo: options.onRcptTo } : {}),
      ...(options.onMailFrom !== undefined ? { onMailFrom: options.onMailFrom } : {}),
      onData(stream, session, callback) {
        const chunks: Array<Buffer> = []
        stream.on("data", (chunk: Buffer) => chunks.push(chunk))
        stream.on("end", () => {
          if (options.rejectData !== undefined) {
            const error = Object.assign(new Error(options.rejectData), { responseCode: 554 })
            callback(error)
            return
          }
          const from = session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address
          received.push({ from, to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString("utf8") })
          callback()
        })
      }
    })
    const port = yield* Effect.acquireRelease(
      listen(server, () => server.server.address()),
      () => Effect.async<void>((resume) => server.close(() => resume(Effect.void)))
    )
    return {
      port,
      get received() {
        return received
      }
    }
  })

/** A TCP server that accepts connections and never says a word: an SMTP server that hangs. */
export const startSilentServer: Effect.Effect<{ readonly port: number }, never, Scope.Scope> = Effect.gen(function* () {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
    socket.on("error", () => undefined)
  })
  const port = yield* Effect.acquireRelease(listen(server, () => server.address()), () =>
    Effect.async<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resume(Effect.void))
    })
  )
  return { port }
})

export const mailConfig = (port: number): MailConfig => ({
  host: "127.0.0.1",
  port,
  secure: false,
  ignoreTLS: true,
  from: "Lomi Allocator <allocator@lab.test>",
  dashboardUrl: "http://dash.test:8080",
  recipients: { upload_reminder: [], permanent_failure: [], manual_add: [] }
})

// --- minimal MIME reading (enough for nodemailer's output) ---

const unfold = (headerBlock: string): string => headerBlock.replace(/\r?\n[ \t]+/g, " ")

const headerValue = (headerBlock: string, name: string): string | undefined => {
  for (const line of unfold(headerBlock).split(/\r?\n/)) {
    const i = line.indexOf(":")
    if (i > 0 && line.slice(0, i).trim().toLowerCase() === name.toLowerCase()) return line.slice(i + 1).trim()
  }
  return undefined
}

const decodeQuotedPrintable = (body: string): Buffer => {
  const soft = body.replace(/=\r?\n/g, "")
  const bytes: Array<number> = []
  for (let i = 0; i < soft.length; i++) {
    const c = soft[i]
    const hex = soft.slice(i + 1, i + 3)
    if (c === "=" && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16))
      i += 2
    } else {
      bytes.push(...Buffer.from(c ?? "", "utf8"))
    }
  }
  return Buffer.from(bytes)
}

const decodeBody = (headers: string, body: string): string => {
  const encoding = (headerValue(headers, "content-transfer-encoding") ?? "7bit").toLowerCase()
  if (encoding === "quoted-printable") return decodeQuotedPrintable(body).toString("utf8")
  if (encoding === "base64") return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8")
  return body
}

const splitHeaders = (entity: string): readonly [string, string] => {
  const m = /\r?\n\r?\n/.exec(entity)
  return m === null ? [entity, ""] : [entity.slice(0, m.index), entity.slice(m.index + m[0].length)]
}

export interface ParsedMail {
  readonly subject: string
  readonly text: string
  readonly html: string
  readonly headers: string
}

/** Decodes an RFC 2047 encoded-word subject if nodemailer used one. */
const decodeWords = (value: string): string =>
  value.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=\s*/g, (_, _charset: string, enc: string, data: string) =>
    enc.toUpperCase() === "B"
      ? Buffer.from(data, "base64").toString("utf8")
      : decodeQuotedPrintable(data.replace(/_/g, " ")).toString("utf8")
  )

export const parseMail = (raw: string): ParsedMail => {
  const [headers, body] = splitHeaders(raw)
  const subject = decodeWords(headerValue(headers, "subject") ?? "")
  let text = ""
  let html = ""
  const visit = (entityHeaders: string, entityBody: string): void => {
    const type = headerValue(entityHeaders, "content-type") ?? "text/plain"
    const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1]
    if (type.toLowerCase().startsWith("multipart/") && boundary !== undefined) {
      const parts = entityBody.split(`--${boundary}`).slice(1)
      for (const part of parts) {
        if (part.startsWith("--")) break
        const [h, b] = splitHeaders(part.replace(/^\r?\n/, ""))
        visit(h, b.replace(/\r?\n$/, ""))
      }
    } else if (type.toLowerCase().startsWith("text/html")) {
      html = decodeBody(entityHeaders, entityBody)
    } else if (type.toLowerCase().startsWith("text/plain")) {
      text = decodeBody(entityHeaders, entityBody)
    }
  }
  visit(headers, body)
  return { subject, text, html, headers }
}
