/**
 * Sign-in and sessions.
 *
 * Users come from the config file (`http.users`, scrypt hashes). With none
 * configured the server is on its first run: one `admin` with a random
 * password, generated once when the layer starts and readable through
 * `bootstrapCredentials` so the launcher can print it.
 *
 * Sessions are in memory (a restart signs everyone out): an opaque token in
 * the cookie, a CSRF token returned at sign-in, an idle timeout on the
 * Clock. Tokens come from node:crypto.
 */
import { randomBytes } from "node:crypto"
import { Clock, Context, Effect, Layer, Option, Ref } from "effect"
import type { SignedInUser } from "../../schemas/api.ts"
import type { StaticConfig } from "../../schemas/config.ts"
import { isoFromMillis } from "../time.ts"
import { cryptoRandom, generatePassword, sameSecret, verifyPassword } from "./passwords.ts"

export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000
const MAX_SESSIONS = 1000

export interface Credential {
  readonly name: string
  readonly password: string
}

export interface Session {
  readonly token: string
  readonly user: SignedInUser
  readonly csrfToken: string
  readonly expiresAt: number
}

export interface HttpAuthShape {
  /** The first-run admin, when no users are configured. */
  readonly bootstrap: Option.Option<Credential>
  readonly users: ReadonlyArray<SignedInUser>
  /** The user when name and password match; None otherwise (same work either way). */
  readonly authenticate: (name: string, password: string) => Effect.Effect<Option.Option<SignedInUser>>
  readonly open: (user: SignedInUser) => Effect.Effect<Session>
  /** The live session for a cookie token; refreshes its idle timeout. */
  readonly lookup: (token: string) => Effect.Effect<Option.Option<Session>>
  readonly close: (token: string) => Effect.Effect<void>
  readonly sessionCount: Effect.Effect<number>
  /** Whether the cookie is marked Secure. */
  readonly secureCookie: boolean
  /** The live sessions, for the hand-over across a requested restart (kernel/http/sessionHandoff.ts). */
  readonly liveSessions: Effect.Effect<ReadonlyArray<Session>>
  /** Takes over sessions handed over by the previous process: only unexpired ones of users that still exist with the same role. */
  readonly adoptSessions: (handed: ReadonlyArray<Session>) => Effect.Effect<number>
}

export class HttpAuth extends Context.Tag("kernel/http/HttpAuth")<HttpAuth, HttpAuthShape>() {}

const token = () => randomBytes(32).toString("base64url")

interface Account {
  readonly user: SignedInUser
  readonly check: (password: string) => Effect.Effect<boolean>
}

export const makeHttpAuth = (config: StaticConfig, options: { readonly secureCookie: boolean }) =>
  Effect.gen(function* () {
    const configured = config.http.users
    const bootstrap: Option.Option<Credential> =
      configured.length > 0
        ? Option.none()
        : Option.some({ name: "admin", password: yield* Effect.withRandom(generatePassword(20), cryptoRandom) })

    const accounts = new Map<string, Account>()
    for (const u of configured) {
      accounts.set(u.name, { user: { name: u.name, role: u.role }, check: (p) => verifyPassword(p, u.passwordHash) })
    }
    if (Option.isSome(bootstrap)) {
      const secret = bootstrap.value.password
      accounts.set(bootstrap.value.name, {
        user: { name: bootstrap.value.name, role: "admin" },
        // Still costs an scrypt, so a wrong guess takes as long as for configured users.
        check: (p) => Effect.map(verifyPassword(p, undefined), () => sameSecret(p, secret))
      })
    }

    const sessions = yield* Ref.make<ReadonlyMap<string, Session>>(new Map())

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
        const session: Session = { token: token(), csrfToken: token(), user, expiresAt: now + SESSION_IDLE_MS }
        yield* Ref.update(sessions, (m) => {
          const live = [...m.values()].filter((s) => s.expiresAt > now).sort((a, b) => a.expiresAt - b.expiresAt)
          const kept = live.slice(Math.max(0, live.length - (MAX_SESSIONS - 1)))
          return new Map([...kept.map((s) => [s.token, s] as const), [session.token, session]])
        })
        return session
      })

    const lookup = (value: string) =>
      Effect.gen(function* () {
        if (value === "") return Option.none<Session>()
        const now = yield* Clock.currentTimeMillis
        return yield* Ref.modify(sessions, (m): [Option.Option<Session>, ReadonlyMap<string, Session>] => {
          const found = m.get(value)
          if (found === undefined) return [Option.none(), m]
          if (found.expiresAt <= now) {
            const rest = new Map(m)
            rest.delete(value)
            return [Option.none(), rest]
          }
          const refreshed = { ...found, expiresAt: now + SESSION_IDLE_MS }
          return [Option.some(refreshed), new Map([...m, [value, refreshed]])]
        })
      })

    const shape: HttpAuthShape = {
      bootstrap,
      users: [...accounts.values()].map((a) => a.user),
      authenticate,
      open,
      lookup,
      close: (value) =>
        Ref.update(sessions, (m) => {
          const rest = new Map(m)
          rest.delete(value)
          return rest
        }),
      sessionCount: Effect.map(Ref.get(sessions), (m) => m.size),
      secureCookie: options.secureCookie,
      liveSessions: Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        return [...(yield* Ref.get(sessions)).values()].filter((s) => s.expiresAt > now)
      }),
      adoptSessions: (handed) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const valid = handed.filter((s) => {
            const account = accounts.get(s.user.name)
            return s.expiresAt > now && account !== undefined && account.user.role === s.user.role
          })
          yield* Ref.update(sessions, (m) => new Map([...m, ...valid.map((s) => [s.token, s] as const)]))
          return valid.length
        })
    }
    return shape
  })

export const httpAuthLayer = (config: StaticConfig, options: { readonly secureCookie: boolean }) =>
  Layer.effect(HttpAuth, makeHttpAuth(config, options))

/** The first-run admin's name and password, when no users are configured; for the launcher to print. */
export const bootstrapCredentials: Effect.Effect<Option.Option<Credential>, never, HttpAuth> = Effect.map(
  HttpAuth,
  (auth) => auth.bootstrap
)

export const expiresAtIso = (session: Session) => isoFromMillis(session.expiresAt)
