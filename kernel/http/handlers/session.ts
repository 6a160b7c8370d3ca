/** Sign-in, who-am-I, sign-out, and the user list. */
import { HttpApiBuilder, HttpApp, HttpServerResponse } from "@effect/platform"
import { Effect, Option } from "effect"
import { Api, SESSION_COOKIE, sessionSecurity, Unauthorized } from "../../../schemas/api.ts"
import { expiresAtIso, HttpAuth, type Session } from "../auth.ts"

const info = (session: Session) => ({
  user: session.user.name,
  role: session.user.role,
  csrfToken: session.csrfToken,
  expiresAt: expiresAtIso(session)
})

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
          const user = yield* auth.authenticate(payload.name, payload.password)
          if (Option.isNone(user)) {
            yield* Effect.logWarning("sign-in refused").pipe(Effect.annotateLogs("user", payload.name))
            return yield* new Unauthorized({ message: "wrong user name or password" })
          }
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
      .handle("listUsers", () =>
        Effect.succeed({ users: auth.users, bootstrap: Option.isSome(auth.bootstrap) })
      )
  })
)
