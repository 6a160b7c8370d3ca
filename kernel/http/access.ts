/**
 * The access middlewares: a live session (401 otherwise), the CSRF token on
 * anything but GET/HEAD (403), and a role at least the endpoint's (403).
 * They run before the request body is decoded, so an unauthenticated caller
 * learns nothing about the payload rules.
 */
import { HttpServerRequest } from "@effect/platform"
import { Effect, Layer, Option, Redacted } from "effect"
import {
  AdminAccess,
  CSRF_HEADER,
  Forbidden,
  OperatorAccess,
  type Role,
  roleAllows,
  type SignedInUser,
  Unauthorized,
  ViewerAccess
} from "../../schemas/api.ts"
import { HttpAuth, type HttpAuthShape } from "./auth.ts"
import { sameSecret } from "./passwords.ts"

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"])

const check = (auth: HttpAuthShape, required: Role) => (cookie: Redacted.Redacted) =>
  Effect.gen(function* () {
    const value = Redacted.value(cookie)
    if (value === "") return yield* new Unauthorized({ message: "sign in first (POST /api/session)" })
    const session = yield* auth.lookup(value)
    if (Option.isNone(session)) {
      return yield* new Unauthorized({ message: "your session has expired or was signed out; sign in again" })
    }
    const request = yield* HttpServerRequest.HttpServerRequest
    if (!SAFE_METHODS.has(request.method)) {
      const sent = request.headers[CSRF_HEADER]
      if (sent === undefined || sent === "") {
        return yield* new Forbidden({ message: `missing CSRF token: send the ${CSRF_HEADER} header from sign-in` })
      }
      if (!sameSecret(sent, session.value.csrfToken)) {
        return yield* new Forbidden({ message: `wrong CSRF token in the ${CSRF_HEADER} header` })
      }
    }
    const user = session.value.user
    if (!roleAllows(user.role, required)) {
      return yield* new Forbidden({ message: `${user.name} is ${user.role}; this needs ${required}` })
    }
    const signedIn: SignedInUser = user
    return signedIn
  })

export const AccessLive = Layer.mergeAll(
  Layer.effect(
    ViewerAccess,
    Effect.map(HttpAuth, (auth) => ViewerAccess.of({ session: check(auth, "viewer") }))
  ),
  Layer.effect(
    OperatorAccess,
    Effect.map(HttpAuth, (auth) => OperatorAccess.of({ session: check(auth, "operator") }))
  ),
  Layer.effect(
    AdminAccess,
    Effect.map(HttpAuth, (auth) => AdminAccess.of({ session: check(auth, "admin") }))
  )
)
