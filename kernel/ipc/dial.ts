/**
 * Dialling a Unix socket with a short deadline. A socket file whose server
 * is dead refuses at once, but a wedged one may accept nothing: never wait
 * on it long (containerd spent 100 s per dead shim at start-up).
 */
import * as net from "node:net"
import { Duration, Effect } from "effect"

/** Opens a connection within `timeoutMs`, or fails with the reason. The deadline is Effect's clock, as everywhere in the kernel. */
export const openSocket = (socketPath: string, timeoutMs: number) =>
  Effect.async<net.Socket, Error>((resume) => {
    const socket = net.createConnection({ path: socketPath })
    socket.once("connect", () => {
      socket.removeAllListeners("error")
      resume(Effect.succeed(socket))
    })
    socket.once("error", (error) => {
      socket.destroy()
      resume(Effect.fail(error))
    })
    // Interrupted (the deadline passed): the half-open connection goes.
    return Effect.sync(() => socket.destroy())
  }).pipe(
    Effect.timeoutFail({
      duration: Duration.millis(timeoutMs),
      onTimeout: () => new Error(`no answer on ${socketPath} within ${timeoutMs} ms`)
    })
  )

/** True when a server accepts on `socketPath` within `timeoutMs`. */
export const dial = (socketPath: string, timeoutMs: number): Effect.Effect<boolean> =>
  openSocket(socketPath, timeoutMs).pipe(
    Effect.map((socket) => {
      socket.destroy()
      return true
    }),
    Effect.orElseSucceed(() => false)
  )
