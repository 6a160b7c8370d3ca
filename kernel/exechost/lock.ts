/**
 * One host per data dir. The lock is a listening socket in Linux's abstract
 * namespace named after the data dir: binding it is atomic and the kernel
 * releases it when the process dies, however it dies, so there is no stale
 * lock file to judge.
 */
import { createHash } from "node:crypto"
import * as net from "node:net"
import * as path from "node:path"
import { Data, Effect, type Scope } from "effect"

export class HostAlreadyRunning extends Data.TaggedError("HostAlreadyRunning")<{ readonly message: string }> {}

export const holdHostLock = (dataDir: string): Effect.Effect<void, HostAlreadyRunning, Scope.Scope> => {
  const dir = path.resolve(dataDir)
  const name = `\0lomi-exechost-${createHash("sha256").update(dir).digest("hex").slice(0, 32)}`
  return Effect.acquireRelease(
    Effect.async<net.Server, HostAlreadyRunning>((resume) => {
      const server = net.createServer()
      server.once("error", (error: NodeJS.ErrnoException) =>
        resume(
          Effect.fail(
            new HostAlreadyRunning({
              message:
                error.code === "EADDRINUSE"
                  ? `another execution host is running for ${dir}`
                  : `cannot take the execution host lock for ${dir}: ${error.message}`
            })
          )
        )
      )
      server.listen(name, () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.sync(() => server.close())
  ).pipe(Effect.asVoid)
}
