/**
 * A whole allocator (in-memory Firestore, simulated pipelines, captured mail,
 * real temp SQLite) with the HTTP layer on a free loopback port, on the live
 * clock; and a small fetch client that keeps a session's cookie and CSRF
 * token. Tests talk to the server only over HTTP; they reach behind it only
 * to play the outside world (Firestore documents, pipeline outcomes).
 */
import { request as httpRequest } from "node:http"
import { HttpServer } from "@effect/platform"
import { Context, Duration, Effect, Layer, Option } from "effect"
import { CSRF_HEADER, type Role, SESSION_COOKIE } from "../../schemas/api.ts"
import type { StaticConfig } from "../../schemas/config.ts"
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import { httpLayer, type HttpOptions, hashPassword } from "../../kernel/http/server.ts"
import { SimHost, type SimOutcome } from "../../kernel/replay/simHost.ts"
import { allocatorOn, tempDir, testConfig, worldLayer } from "../support/allocator.ts"

export interface TestUser {
  readonly name: string
  readonly password: string
  readonly role: Role
}

export const USERS: Readonly<Record<Role, TestUser>> = {
  viewer: { name: "vera", password: "viewer-password-1", role: "viewer" },
  operator: { name: "otto", password: "operator-password-1", role: "operator" },
  admin: { name: "ada", password: "admin-password-1", role: "admin" }
}

export interface TestServerShape {
  readonly base: string
  readonly config: StaticConfig
}

export class TestServer extends Context.Tag("test/http/TestServer")<TestServer, TestServerShape>() {}

export interface ServerOptions extends HttpOptions {
  /** Users in the config; default: the three test users. Empty: first-run bootstrap admin. */
  readonly users?: ReadonlyArray<TestUser>
  readonly configure?: (config: StaticConfig) => StaticConfig
}

export const serverLayer = (options: ServerOptions = {}) =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const dir = yield* tempDir
      const users = yield* Effect.forEach(options.users ?? Object.values(USERS), (u) =>
        Effect.map(hashPassword(u.password), (passwordHash) => ({ name: u.name, role: u.role, passwordHash }))
      )
      const base = testConfig(dir)
      const config = (options.configure ?? ((c) => c))({ ...base, http: { host: "127.0.0.1", port: 0, users } })
      const stack = httpLayer(config, options).pipe(
        Layer.provideMerge(allocatorOn(config)),
        Layer.provideMerge(worldLayer(config))
      )
      const address = Layer.effect(
        TestServer,
        Effect.map(HttpServer.HttpServer, (server) => {
          const a = server.address
          const port = a._tag === "TcpAddress" ? a.port : 0
          return { base: `http://127.0.0.1:${port}`, config }
        })
      )
      return Layer.provideMerge(address, stack)
    })
  )

// ---------------------------------------------------------------------------
// A fetch client

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  /** The body parsed as JSON, or undefined. */
  readonly body: unknown
}

export interface RequestOptions {
  readonly body?: unknown
  /** Sent as is (overrides body). */
  readonly raw?: string
  readonly headers?: Readonly<Record<string, string>>
  /** Leave out the CSRF header. */
  readonly noCsrf?: boolean
}

const toReply = async (response: Response): Promise<Reply> => {
  const text = await response.text()
  let body: unknown
  try {
    body = text === "" ? undefined : JSON.parse(text)
  } catch {
    body = undefined
  }
  return { status: response.status, headers: response.headers, text, body }
}

export const send = (
  base: string,
  method: string,
  path: string,
  options: RequestOptions & { readonly cookie?: string; readonly csrf?: string } = {}
): Effect.Effect<Reply> =>
  Effect.promise(async () => {
    const headers: Record<string, string> = { ...options.headers }
    if (options.cookie !== undefined) headers.cookie = `${SESSION_COOKIE}=${options.cookie}`
    if (options.csrf !== undefined && options.noCsrf !== true) headers[CSRF_HEADER] = options.csrf
    let body: string | undefined
    if (options.raw !== undefined) body = options.raw
    else if (options.body !== undefined) body = JSON.stringify(options.body)
    if (body !== undefined && headers["content-type"] === undefined) headers["content-type"] = "application/json"
    const init: RequestInit = { method, headers, redirect: "manual" }
    if (body !== undefined) init.body = body
    return toReply(await fetch(`${base}${path}`, init))
  })

export interface Client {
  readonly user: string
  readonly cookie: string
  readonly csrf: string
  readonly get: (path: string, options?: RequestOptions) => Effect.Effect<Reply>
  readonly post: (path: string, body?: unknown, options?: RequestOptions) => Effect.Effect<Reply>
  readonly put: (path: string, body?: unknown, options?: RequestOptions) => Effect.Effect<Reply>
  readonly del: (path: string, options?: RequestOptions) => Effect.Effect<Reply>
  readonly send: (method: string, path: string, options?: RequestOptions) => Effect.Effect<Reply>
}

export const cookieFrom = (reply: Reply): Option.Option<string> => {
  const header = reply.headers.get("set-cookie") ?? ""
  const match = new RegExp(`${SESSION_COOKIE}=([^;]*)`).exec(header)
  return Option.fromNullable(match?.[1])
}

export const clientFor = (base: string, user: string, cookie: string, csrf: string): Client => {
  const go = (method: string, path: string, options: RequestOptions = {}) =>
    send(base, method, path, { ...options, cookie, csrf })
  return {
    user,
    cookie,
    csrf,
    get: (path, options) => go("GET", path, options),
    post: (path, body, options) => go("POST", path, { ...options, body }),
    put: (path, body, options) => go("PUT", path, { ...options, body }),
    del: (path, options) => go("DELETE", path, options),
    send: go
  }
}

export const signInAs = (name: string, password: string) =>
  Effect.gen(function* () {
    const { base } = yield* TestServer
    const reply = yield* send(base, "POST", "/api/session", { body: { name, password } })
    if (reply.status !== 200) return yield* Effect.dieMessage(`sign-in of ${name} failed: ${reply.status} ${reply.text}`)
    const cookie = yield* Effect.orDieWith(cookieFrom(reply), () => new Error("no session cookie"))
    const csrf = (reply.body as { csrfToken: string }).csrfToken
    return clientFor(base, name, cookie, csrf)
  })

export const signIn = (role: Role) => signInAs(USERS[role].name, USERS[role].password)

/** An anonymous caller. */
export const anonymous = Effect.map(TestServer, ({ base }) => clientFor(base, "anonymous", "", ""))

/** Polls until `check` returns a value, or dies after `timeout`. */
export const eventually = <A, B>(
  probe: Effect.Effect<A>,
  check: (a: A) => B | undefined,
  timeout: Duration.DurationInput = "10 seconds"
): Effect.Effect<B> =>
  Effect.gen(function* () {
    const deadline = Duration.toMillis(timeout)
    let waited = 0
    let last: A | undefined
    while (waited <= deadline) {
      last = yield* probe
      const result = check(last)
      if (result !== undefined) return result
      yield* Effect.sleep("25 millis")
      waited += 25
    }
    return yield* Effect.dieMessage(`condition not met within ${deadline} ms; last: ${JSON.stringify(last)}`)
  })

/** A request whose path is sent exactly as given (fetch would normalise `%2E%2E` and `..`). */
export const rawRequest = (base: string, method: string, path: string, headers: Record<string, string> = {}) =>
  Effect.async<{ readonly status: number; readonly body: string }>((resume) => {
    const url = new URL(base)
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => (body += chunk))
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body })))
    })
    req.on("error", (e) => resume(Effect.die(e)))
    req.end()
  })

// ---------------------------------------------------------------------------
// Playing the outside world, and waiting for the allocator

export interface RunView {
  readonly id: number
  readonly doc_id: string
  readonly state: string
  readonly attempt: number
  readonly notes: string | null
  readonly error_message: string | null
  readonly service: string
  readonly patient_id: string | null
}

export const exitAfter = (code: number, ms = 30): SimOutcome => ({ _tag: "Exit", code, after: Duration.millis(ms) })
export const hang: SimOutcome = { _tag: "Hang" }

/** A report arrives as Data Ready, its pipeline scripted to end with `outcomes`. */
export const arrive = (
  doc: string,
  service: string,
  patientId: string,
  outcomes: ReadonlyArray<SimOutcome>,
  extra: Readonly<Record<string, unknown>> = {}
) =>
  Effect.gen(function* () {
    const sim = yield* SimHost
    const fs = yield* MemoryFirestore
    yield* sim.append(doc, outcomes)
    yield* fs.setReport(doc, { status: "Data Ready", service, patientId, ...extra })
  })

export const runsOf = (client: Client, doc: string) =>
  Effect.map(client.get(`/api/docs/${doc}`), (reply) =>
    reply.status === 200 ? (reply.body as { runs: ReadonlyArray<RunView> }).runs : []
  )

/** Waits until the document's runs satisfy `done`, and returns them. */
export const waitRuns = (client: Client, doc: string, done: (runs: ReadonlyArray<RunView>) => boolean) =>
  eventually(runsOf(client, doc), (runs) => (done(runs) ? runs : undefined))

export const statesOf = (runs: ReadonlyArray<RunView>) => runs.map((r) => r.state)
export const lastOf = (runs: ReadonlyArray<RunView>): RunView | undefined => runs[runs.length - 1]

export const firestoreStatus = (doc: string) =>
  Effect.flatMap(MemoryFirestore, (fs) =>
    Effect.map(fs.snapshotReports, (all) => all.find((r) => r.id === doc)?.data)
  )

// ---------------------------------------------------------------------------
// A Server-Sent Events reader

export interface SseFrame {
  readonly event: string
  readonly data: string
}

export interface SseStream {
  readonly status: number
  readonly contentType: string | null
  /** True once the server's preamble (the `: connected` comment) has arrived. */
  readonly connected: () => Promise<void>
  /** The next frame (skipping earlier ones) that satisfies `match`. */
  readonly next: (match: (frame: SseFrame) => boolean, timeoutMs?: number) => Promise<SseFrame>
  /** Every frame received so far. */
  readonly frames: () => ReadonlyArray<SseFrame>
  /** Resolves when the server ends the stream. */
  readonly ended: () => Promise<void>
  readonly close: () => void
}

export const openSse = async (base: string, path: string, cookie: string | undefined): Promise<SseStream> => {
  const controller = new AbortController()
  const headers: Record<string, string> = { accept: "text/event-stream" }
  if (cookie !== undefined) headers.cookie = `${SESSION_COOKIE}=${cookie}`
  const response = await fetch(`${base}${path}`, { headers, signal: controller.signal })
  const frames: Array<SseFrame> = []
  let cursor = 0
  let connected = false
  let done = false
  let buffer = ""
  const waiters = new Set<() => void>()
  const notify = () => {
    for (const w of [...waiters]) w()
  }
  const pump = async () => {
    const body = response.body
    if (body === null) return
    const reader = body.getReader()
    const decoder = new TextDecoder()
    try {
      for (;;) {
        const { value, done: finished } = await reader.read()
        if (finished) break
        buffer += decoder.decode(value, { stream: true })
        let split = buffer.indexOf("\n\n")
        while (split >= 0) {
          const block = buffer.slice(0, split)
          buffer = buffer.slice(split + 2)
          let event = "message"
          const data: Array<string> = []
          for (const line of block.split("\n")) {
            if (line.startsWith(": connected")) connected = true
            else if (line.startsWith("event: ")) event = line.slice(7)
            else if (line.startsWith("data: ")) data.push(line.slice(6))
          }
          if (data.length > 0) frames.push({ event, data: data.join("\n") })
          split = buffer.indexOf("\n\n")
        }
        notify()
      }
    } catch {
      // aborted
    } finally {
      done = true
      notify()
    }
  }
  void pump()
  const waitFor = <A>(check: () => A | undefined, timeoutMs: number, what: string) =>
    new Promise<A>((resolve, reject) => {
      const attempt = () => {
        const found = check()
        if (found !== undefined) {
          waiters.delete(attempt)
          clearTimeout(timer)
          resolve(found)
        } else if (done) {
          waiters.delete(attempt)
          clearTimeout(timer)
          reject(new Error(`stream ended before ${what}; frames: ${JSON.stringify(frames)}`))
        }
      }
      const timer = setTimeout(() => {
        waiters.delete(attempt)
        reject(new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(frames)}`))
      }, timeoutMs)
      waiters.add(attempt)
      attempt()
    })
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    connected: () => waitFor(() => (connected ? true : undefined), 5000, "the preamble").then(() => undefined),
    next: (match, timeoutMs = 5000) =>
      waitFor(
        () => {
          while (cursor < frames.length) {
            const frame = frames[cursor]
            cursor += 1
            if (frame !== undefined && match(frame)) return frame
          }
          return undefined
        },
        timeoutMs,
        "a matching frame"
      ),
    frames: () => frames,
    ended: () =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (done) {
            waiters.delete(check)
            resolve()
          }
        }
        waiters.add(check)
        check()
      }),
    close: () => controller.abort()
  }
}
