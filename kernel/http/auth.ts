/**
 * Sign-in and sessions.
 *
 * Users come from the config file (`http.users`, scrypt hashes). With none
 * configured the server is on its first run: one `admin` whose password is
 * generated on the very first start and stored hashed in
 * `<dataDir>/first-run-admin.hash` (mode 0600), so it stays the same across
 * restarts. Only that first start can show it (`bootstrapCredentials`); later
 * starts say where the hash lives and how to get a new password.
 *
 * Sessions are in memory: an opaque token in the cookie, a CSRF token
 * returned at sign-in, an idle timeout and an absolute lifetime on the
 * Clock. Tokens come from node:crypto. Limits (the rules an attacker meets):
 * - at most MAX_SESSIONS_PER_USER live sessions per user; a user's new
 *   sign-in ends that user's own oldest session, never anyone else's;
 * - a session ends SESSION_IDLE_MS after its last use, and SESSION_MAX_AGE_MS
 *   after sign-in whatever its use;
 * - repeated wrong passwords lock sign-in per name and per address
 *   (signInThrottle.ts);
 * - whatever ends a session (sign-out, eviction, expiry) also ends the event
 *   streams opened with it (`whenEnded`).
 */
import { randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Clock, Context, Data, Deferred, Duration, Effect, Layer, Option, Ref } from "effect"
import type { SignedInUser } from "../../schemas/api.ts"
import type { StaticConfig } from "../../schemas/config.ts"
import { isoFromMillis } from "../time.ts"
import { cryptoRandom, generatePassword, hashPassword, parseHash, verifyPassword } from "./passwords.ts"
import { makeSignInThrottle, type SignInThrottle } from "./signInThrottle.ts"

export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000
export const SESSION_MAX_AGE_MS = 24 * 60 * 60 * 1000
export const MAX_SESSIONS_PER_USER = 10

export interface Credential {
  readonly name: string
  readonly password: string
}

export interface Session {
  readonly token: string
  readonly user: SignedInUser
  readonly csrfToken: string
  readonly expiresAt: number
  /** Sign-in time: the session ends SESSION_MAX_AGE_MS after it, however busy. */
  readonly createdAt: number
}

/** A session handed over by a previous process (it may predate `createdAt`). */
export type HandedSession = Omit<Session, "createdAt"> & { readonly createdAt?: number | undefined }

export class BootstrapUnusable extends Data.TaggedError("BootstrapUnusable")<{ readonly message: string }> {}

export interface HttpAuthShape {
  /** The first-run admin with its password, on the start that created it only. */
  readonly bootstrap: Option.Option<Credential>
  /** Whether the first-run admin is in use (no users configured). */
  readonly firstRun: boolean
  /** One line for the launcher about how to sign in. */
  readonly loginNotice: string
  readonly users: ReadonlyArray<SignedInUser>
  /** The user when name and password match; None otherwise (same work either way). */
  readonly authenticate: (name: string, password: string) => Effect.Effect<Option.Option<SignedInUser>>
  readonly throttle: SignInThrottle
  readonly open: (user: SignedInUser) => Effect.Effect<Session>
  /** The live session for a cookie token; refreshes its idle timeout. */
  readonly lookup: (token: string) => Effect.Effect<Option.Option<Session>>
  readonly close: (token: string) => Effect.Effect<void>
  /** Completes when the session ends: sign-out, eviction, idle or absolute expiry (at once if it is gone). */
  readonly whenEnded: (token: string) => Effect.Effect<void>
  readonly sessionCount: Effect.Effect<number>
  /** Whether the cookie is marked Secure. */
  readonly secureCookie: boolean
  /** The live sessions, for the hand-over across a requested restart (kernel/http/sessionHandoff.ts). */
  readonly liveSessions: Effect.Effect<ReadonlyArray<Session>>
  /** Takes over sessions handed over by the previous process: only unexpired ones of users that still exist with the same role. */
  readonly adoptSessions: (handed: ReadonlyArray<HandedSession>) => Effect.Effect<number>
}

export class HttpAuth extends Context.Tag("kernel/http/HttpAuth")<HttpAuth, HttpAuthShape>() {}

const token = () => randomBytes(32).toString("base64url")

interface Account {
  readonly user: SignedInUser
  readonly check: (password: string) => Effect.Effect<boolean>
}

export const bootstrapHashFile = (dataDir: string) => join(dataDir, "first-run-admin.hash")

/**
 * The first-run admin's stored hash, created with a new password when there
 * is none. The password itself is never stored: it is returned once.
 */
const firstRunAdmin = (dataDir: string) =>
  Effect.gen(function* () {
    const file = bootstrapHashFile(dataDir)
    if (existsSync(file)) {
      const hash = readFileSync(file, "utf8").trim()
      if (parseHash(hash) === undefined) {
        return yield* new BootstrapUnusable({ message: `${file} does not hold an scrypt hash; delete it to get a new first-run password` })
      }
      return { hash, password: Option.none<string>(), file }
    }
    const password = yield* Effect.withRandom(generatePassword(20), cryptoRandom)
    const hash = yield* hashPassword(password)
    mkdirSync(dataDir, { recursive: true })
    writeFileSync(file, `${hash}\n`, { mode: 0o600 })
    chmodSync(file, 0o600)
    return { hash, password: Option.some(password), file }
  })

export const makeHttpAuth = (config: StaticConfig, options: { readonly secureCookie: boolean }) =>
  Effect.gen(function* () {
    const configured = config.http.users
    const accounts = new Map<string, Account>()
    for (const u of configured) {
      accounts.set(u.name, { user: { name: u.name, role: u.role }, check: (p) => verifyPassword(p, u.passwordHash) })
    }
    let bootstrap = Option.none<Credential>()
    let loginNotice = "login: the users in the config file"
    if (configured.length === 0) {
      const admin = yield* firstRunAdmin(config.dataDir)
      accounts.set("admin", { user: { name: "admin", role: "admin" }, check: (p) => verifyPassword(p, admin.hash) })
      bootstrap = Option.map(admin.password, (password) => ({ name: "admin", password }))
      loginNotice = Option.match(admin.password, {
        onSome: (password) =>
          `login: admin / ${password}   (first-run admin, shown this once; configure http.users to replace it)`,
        onNone: () =>
          `login: admin with the first-run password shown at the first start (forgotten? delete ${admin.file} and restart)`
      })
    }

    const sessions = yield* Ref.make<ReadonlyMap<string, Session>>(new Map())
    const endings = new Map<string, Deferred.Deferred<void>>()
    const throttle = yield* makeSignInThrottle

    const ended = (tokens: ReadonlyArray<string>) =>
      Effect.forEach(tokens, (t) => {
        const signal = endings.get(t)
        endings.delete(t)
        return signal === undefined ? Effect.void : Deferred.succeed(signal, undefined)
      }, { discard: true })

    const alive = (s: Session, now: number) => s.expiresAt > now && s.createdAt + SESSION_MAX_AGE_MS > now

    const authenticate = (name: string, password: string) =>
      Effect.gen(function* () {
        const account = accounts.get(name)
        if (account === undefined) {
          yield* verifyPassword(password, undefined)
          return Option.none<SignedInUser>()
        }
        return (yield* account.check(password)) ? Option.some(account.user) : Option.none<SignedInUser>()
      })

    const open = (user: SignedInUser) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const session: Session = { token: token(), csrfToken: token(), user, expiresAt: now + SESSION_IDLE_MS, createdAt: now }
        const dropped = yield* Ref.modify(sessions, (m): [ReadonlyArray<string>, ReadonlyMap<string, Session>] => {
          const live = [...m.values()].filter((s) => alive(s, now))
          const own = live.filter((s) => s.user.name === user.name).sort((a, b) => a.createdAt - b.createdAt)
          const evicted = new Set(own.slice(0, Math.max(0, own.length - (MAX_SESSIONS_PER_USER - 1))).map((s) => s.token))
          const kept = live.filter((s) => !evicted.has(s.token))
          const gone = [...m.keys()].filter((t) => !kept.some((s) => s.token === t))
          return [gone, new Map([...kept.map((s) => [s.token, s] as const), [session.token, session]])]
        })
        yield* ended(dropped)
        return session
      })

    const lookup = (value: string) =>
      Effect.gen(function* () {
        if (value === "") return Option.none<Session>()
        const now = yield* Clock.currentTimeMillis
        const [found, expired] = yield* Ref.modify(
          sessions,
          (m): [readonly [Option.Option<Session>, boolean], ReadonlyMap<string, Session>] => {
            const session = m.get(value)
            if (session === undefined) return [[Option.none(), false], m]
            if (!alive(session, now)) {
              const rest = new Map(m)
              rest.delete(value)
              return [[Option.none(), true], rest]
            }
            const refreshed = { ...session, expiresAt: Math.min(now + SESSION_IDLE_MS, session.createdAt + SESSION_MAX_AGE_MS) }
            return [[Option.some(refreshed), false], new Map([...m, [value, refreshed]])]
          }
        )
        if (expired) yield* ended([value])
        return found
      })

    const close = (value: string) =>
      Ref.update(sessions, (m) => {
        const rest = new Map(m)
        rest.delete(value)
        return rest
      }).pipe(Effect.zipRight(ended([value])))

    /** Waits for sign-out or eviction, and wakes at the session's expiry to check it (a use may have pushed it later). */
    const whenEnded = (value: string): Effect.Effect<void> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const session = (yield* Ref.get(sessions)).get(value)
        if (session === undefined || !alive(session, now)) return yield* ended([value])
        let signal = endings.get(value)
        if (signal === undefined) {
          signal = yield* Deferred.make<void>()
          endings.set(value, signal)
        }
        const deadline = Math.min(session.expiresAt, session.createdAt + SESSION_MAX_AGE_MS)
        const woken = yield* Effect.raceFirst(
          Effect.as(Deferred.await(signal), "ended" as const),
          Effect.as(Effect.sleep(Duration.millis(Math.max(0, deadline - now) + 1)), "check" as const)
        )
        if (woken === "check") return yield* whenEnded(value)
      })

    const shape: HttpAuthShape = {
      bootstrap,
      firstRun: configured.length === 0,
      loginNotice,
      users: [...accounts.values()].map((a) => a.user),
      authenticate,
      throttle,
      open,
      lookup,
      close,
      whenEnded,
      sessionCount: Effect.map(Ref.get(sessions), (m) => m.size),
      secureCookie: options.secureCookie,
      liveSessions: Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        return [...(yield* Ref.get(sessions)).values()].filter((s) => alive(s, now))
      }),
      adoptSessions: (handed) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const valid = handed
            .map((s): Session => ({ ...s, createdAt: s.createdAt ?? now }))
            .filter((s) => {
              const account = accounts.get(s.user.name)
              return alive(s, now) && account !== undefined && account.user.role === s.user.role
            })
          yield* Ref.update(sessions, (m) => new Map([...m, ...valid.map((s) => [s.token, s] as const)]))
          return valid.length
        })
    }
    return shape
  })

export const httpAuthLayer = (config: StaticConfig, options: { readonly secureCookie: boolean }) =>
  Layer.effect(HttpAuth, makeHttpAuth(config, options))

/** The first-run admin's name and password, on the start that created them; for the launcher to print. */
export const bootstrapCredentials: Effect.Effect<Option.Option<Credential>, never, HttpAuth> = Effect.map(
  HttpAuth,
  (auth) => auth.bootstrap
)

/** One line saying how to sign in (the first-run password only on the start that created it). */
export const loginNotice: Effect.Effect<string, never, HttpAuth> = Effect.map(HttpAuth, (auth) => auth.loginNotice)

export const expiresAtIso = (session: Session) => isoFromMillis(session.expiresAt)
