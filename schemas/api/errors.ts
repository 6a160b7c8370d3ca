/**
 * Errors at the HTTP edge, each with its status. A 4xx means the request
 * never reached the command bus: nothing was attempted and nothing changed.
 */
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

const message = { message: Schema.String }

/** No session, an expired one, or wrong credentials. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  message,
  HttpApiSchema.annotations({ status: 401 })
) {}

/** Signed in, but the role is too low, or the CSRF token is missing or wrong. */
export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Forbidden",
  message,
  HttpApiSchema.annotations({ status: 403 })
) {}

/** Input that passed the schema but still makes no sense (e.g. an inverted date range). */
export class BadRequest extends Schema.TaggedError<BadRequest>()(
  "BadRequest",
  message,
  HttpApiSchema.annotations({ status: 400 })
) {}

/** A run, document or hold that does not exist. */
export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  message,
  HttpApiSchema.annotations({ status: 404 })
) {}

/** /readyz: the database cannot be read. */
export class NotReady extends Schema.TaggedError<NotReady>()(
  "NotReady",
  { message: Schema.String, outage: Schema.Boolean },
  HttpApiSchema.annotations({ status: 503 })
) {}

/** Sign-in refused for a while after repeated wrong passwords (per user name and per address). */
export class TooManyAttempts extends Schema.TaggedError<TooManyAttempts>()(
  "TooManyAttempts",
  { message: Schema.String, retryAfterSeconds: Schema.Number },
  HttpApiSchema.annotations({ status: 429 })
) {}
