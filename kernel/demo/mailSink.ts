/**
 * The demo's mail server: an SMTP sink on loopback that files every message
 * under `<dataDir>/demo-mail/`, so `make run` shows real SMTP sends without
 * a real mail server. Only the embedded demo starts it.
 */
import { Effect, Layer } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { SMTPServer } from "smtp-server"

export const demoMailSinkLayer = (host: string, port: number, dir: string) =>
  Layer.scopedDiscard(
    Effect.acquireRelease(
      Effect.async<SMTPServer, Error>((resume) => {
        mkdirSync(dir, { recursive: true })
        let count = 0
        const server = new SMTPServer({
          authOptional: true,
          disabledCommands: ["STARTTLS", "AUTH"],
          logger: false,
          onData(stream, _session, callback) {
            const chunks: Array<Buffer> = []
            stream.on("data", (c: Buffer) => chunks.push(c))
            stream.on("end", () => {
              count += 1
              writeFileSync(join(dir, `${String(count).padStart(5, "0")}.eml`), Buffer.concat(chunks))
              callback()
            })
          }
        })
        server.once("error", (e) => resume(Effect.fail(e)))
        server.listen(port, host, () => resume(Effect.succeed(server)))
      }),
      (server) => Effect.async<void>((resume) => server.close(() => resume(Effect.void)))
    ).pipe(
      Effect.tap(() => Effect.logInfo(`demo mail sink on ${host}:${port}, messages filed in ${dir}`)),
      Effect.mapError((e) => new Error(`demo mail sink cannot listen on ${host}:${port}: ${e.message}`))
    )
  )
