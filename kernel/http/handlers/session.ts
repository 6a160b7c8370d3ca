/**
 * Sign-in, who-am-I, sign-out, and the user list.
 *
 * Sign-in is throttled per name and per client address (signInThrottle.ts):
 * a locked attempt is a 429 saying when to try again, decided before the
 * password is looked at. Every refusal is logged with the name (cut to 64
 * characters) and the address.
 */
import { HttpApiBuilder, HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Option } from "effect"
import { Api, SESSION_COOKIE, sessionSecurity, TooManyAttempts, Unauthorized } from "../../../schemas/api.ts"
import { expiresAtIso, HttpAuth, type Session } from "../auth.ts"

const info = (session: Session) => ({
  user: session.user.name,
  role: session.user.role,
  csrfToken: session.csrfToken,
  expiresAt: expiresAtIso(session)
})

const clientAddress = Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
  Option.getOrElse(request.remoteAddress, () => "unknown")
)

export const SessionLive = HttpApiBuilder.group(Api, "session", (handlers) =>
  Effect.gen(function* () {
    const auth = yield* HttpAuth
    const cookie = { httpOnly: true, sameSite: "strict", secure: auth.secureCookie, path: "/" } as const

    const current = (cookies: Readonly<Record<string, string>>) =>
      Effect.flatMap(auth.lookup(cookies[SESSION_COOKIE] ?? ""), (session) =>
        Option.isSome(session) ? Effect.succeed(session.value) : Effect.fail(new Unauthorized({ message: "sign in first" }))
      )

    return handlers
      .handle("signIn", ({ payload }) =>
        Effect.gen(function* () {
          const address = yield* clientAddress
          const who = { user: payload.name.slice(0, 64), address }
          const locked = yield* auth.throttle.lockedFor(payload.name, address)
          if (Option.isSome(locked)) {
            yield* Effect.logWarning("sign-in refused: locked after repeated wrong passwords").pipe(Effect.annotateLogs(who))
            return yield* new TooManyAttempts({
              message: `too many wrong passwords; try again in ${locked.value} s`,
              retryAfterSeconds: locked.value
            })
          }
          const user = yield* auth.authenticate(payload.name, payload.password)
          if (Option.isNone(user)) {
            yield* auth.throttle.recordFailure(payload.name, address)
            yield* Effect.logWarning("sign-in refused").pipe(Effect.annotateLogs(who))
            return yield* new Unauthorized({ message: "wrong user name or password" })
          }
          yield* auth.throttle.recordSuccess(payload.name)
          const session = yield* auth.open(user.value)
          yield* HttpApiBuilder.securitySetCookie(sessionSecurity, session.token, cookie)
          yield* Effect.logInfo("signed in").pipe(Effect.annotateLogs({ user: user.value.name, role: user.value.role }))
          return info(session)
        })
      )
      .handle("whoAmI", ({ request }) => Effect.map(current(request.cookies), info))
      .handle("signOut", ({ request }) =>
        Effect.gen(function* () {
          yield* auth.close(request.cookies[SESSION_COOKIE] ?? "")
          yield* HttpApp.appendPreResponseHandler((_, response) =>
            Effect.orDie(HttpServerResponse.expireCookie(response, SESSION_COOKIE, { path: "/" }))
          )
        })
      )
      .handle("listUsers", () => Effect.succeed({ users: auth.users, bootstrap: auth.firstRun }))
  })
)
