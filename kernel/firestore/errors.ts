/**
 * Turns whatever firebase-admin throws into a FirestoreError with a one-line message.
 *
 * gRPC and emulator errors carry multi-line details (and the SDK's stack traces);
 * the listener re-subscribes and the dashboard shows the message, so one
 * readable line per failure is what an operator should see, not a wall of text.
 */
import { FirestoreError } from "../ports/firestore.ts"

/** The gRPC status code firebase-admin attaches to its errors, if any. */
export const grpcCode = (cause: unknown): number | undefined => {
  if (typeof cause !== "object" || cause === null || !("code" in cause)) return undefined
  return typeof cause.code === "number" ? cause.code : undefined
}

export const GRPC_NOT_FOUND = 5

export const describeError = (cause: unknown): string => {
  const text = cause instanceof Error ? cause.message : String(cause)
  const firstLine = text.split("\n").map((line) => line.trim()).find((line) => line.length > 0)
  return firstLine ?? "unknown error"
}

export const toFirestoreError = (operation: string) => (cause: unknown): FirestoreError =>
  cause instanceof FirestoreError ? cause : new FirestoreError({ operation, message: describeError(cause) })
