/**
 * Who may call what. Every endpoint carries an `Access` annotation (its rule)
 * and, unless public, the matching middleware that enforces it. Roles are
 * ordered: an admin can do what an operator can, an operator what a viewer can.
 *
 * Sessions live in an HttpOnly, SameSite=Strict cookie. Every mutating
 * request (anything but GET/HEAD) must also carry the session's CSRF token in
 * the `x-csrf-token` header; reads, including the SSE streams, need only the
 * cookie.
 */
import { HttpApiMiddleware, HttpApiSecurity, OpenApi } from "@effect/platform"
import { Context, Schema } from "effect"
import { Forbidden, Unauthorized } from "./errors.ts"

export const ROLES = ["viewer", "operator", "admin"] as const
export const Role = Schema.Literal(...ROLES)
export type Role = typeof Role.Type

export type AccessLevel = "public" | Role

/** True when `role` may do what `required` demands. */
export const roleAllows = (role: Role, required: Role): boolean => ROLES.indexOf(role) >= ROLES.indexOf(required)

/** The access rule of an endpoint, read by the authorization tests and the docs. */
export class Access extends Context.Tag("api/Access")<Access, AccessLevel>() {}

export interface SignedInUser {
  readonly name: string
  readonly role: Role
}

/** The signed-in user, provided to handlers by the access middlewares. */
export class CurrentUser extends Context.Tag("api/CurrentUser")<CurrentUser, SignedInUser>() {}

export const SESSION_COOKIE = "lomi_session"
export const CSRF_HEADER = "x-csrf-token"

export const sessionSecurity = HttpApiSecurity.apiKey({ in: "cookie", key: SESSION_COOKIE }).pipe(
  HttpApiSecurity.annotate(
    OpenApi.Description,
    "Session cookie from POST /api/session. Mutating requests also need the x-csrf-token header."
  )
)

const failure = Schema.Union(Unauthorized, Forbidden)

export class ViewerAccess extends HttpApiMiddleware.Tag<ViewerAccess>()("api/ViewerAccess", {
  failure,
  provides: CurrentUser,
  security: { session: sessionSecurity }
}) {}

export class OperatorAccess extends HttpApiMiddleware.Tag<OperatorAccess>()("api/OperatorAccess", {
  failure,
  provides: CurrentUser,
  security: { session: sessionSecurity }
}) {}

export class AdminAccess extends HttpApiMiddleware.Tag<AdminAccess>()("api/AdminAccess", {
  failure,
  provides: CurrentUser,
  security: { session: sessionSecurity }
}) {}
