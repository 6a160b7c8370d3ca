/**
 * Converts Firestore document values into plain JSON-like values.
 *
 * Hospitals write dates as Firestore Timestamps; the allocator's schemas,
 * replays and SQLite rows deal in strings. Converting at the port's edge keeps
 * SDK classes from leaking above it, and makes the live port deliver the same
 * shapes as the in-memory double.
 */
import { DocumentReference, GeoPoint, Timestamp } from "firebase-admin/firestore"

export const toPlain = (value: unknown): unknown => {
  if (value instanceof Timestamp) return value.toDate().toISOString()
  if (value instanceof DocumentReference) return value.path
  if (value instanceof GeoPoint) return { latitude: value.latitude, longitude: value.longitude }
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64")
  if (Array.isArray(value)) return value.map(toPlain)
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, toPlain(inner)]))
  }
  return value
}

export const toPlainData = (data: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(data).map(([key, value]) => [key, toPlain(value)]))
