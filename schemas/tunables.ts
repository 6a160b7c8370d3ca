/** Run-time tunables: stored in SQLite, validated on every write. */
import { Schema } from "effect"

export interface TunableSpec {
  readonly default: number
  readonly min: number
  readonly max: number
  readonly restartRequired: boolean
  readonly description: string
}

const days = (d: number, what: string): TunableSpec => ({
  default: d,
  min: 1,
  max: 3650,
  restartRequired: false,
  description: `Days to keep ${what}`
})
const delay = (d: number, description: string): TunableSpec => ({
  default: d,
  min: 0,
  max: 2592000,
  restartRequired: false,
  description
})

export const TUNABLES = {
  MAX_WORKERS: { default: 1, min: 1, max: 64, restartRequired: true, description: "Concurrent pipelines; forced to 1 while the sandbox is off" },
  SANDBOX_ENABLED: { default: 1, min: 0, max: 1, restartRequired: true, description: "1 runs every pipeline in a bubblewrap sandbox; 0 runs it directly on disk" },
  MAX_RETRIES: { default: 3, min: 1, max: 100, restartRequired: false, description: "Attempts per document before it fails permanently" },
  RETRY_DELAY_SECONDS: delay(1800, "Delay before the next attempt after a failure"),
  TEMP_FAIL_EXIT_CODE: { default: 75, min: 1, max: 255, restartRequired: false, description: "Exit code meaning the inputs are not there yet" },
  TEMP_FAIL_RETRY_DELAY_SECONDS: delay(3600, "Delay before re-running a temp-failed attempt"),
  FAILED_SYNC_RETRY_DELAY_SECONDS: delay(86400, "Delay before the automatic retry after a failed Firestore sync"),
  COOLDOWN_SECONDS: delay(86400, "Gen-Decoder's hold before its first attempt"),
  KILL_GRACE_MS: { default: 1500, min: 0, max: 60000, restartRequired: false, description: "Pause before a kill acts, so a pipeline that is finishing can finish" },
  EMAIL_ENABLED: { default: 1, min: 0, max: 1, restartRequired: false, description: "0 logs every email as skipped instead of sending it" },
  RETENTION_SUCCEEDED_DAYS: days(30, "succeeded rows"),
  RETENTION_FAILED_RETRYING_DAYS: days(14, "failed_retrying rows"),
  RETENTION_TEMP_FAILED_DAYS: days(14, "temp_failed rows"),
  RETENTION_FAILED_SYNC_DAYS: days(90, "failed_sync rows"),
  RETENTION_FAILED_PERMANENT_DAYS: days(90, "failed_permanent rows"),
  RETENTION_OCR_CACHE_DAYS: days(30, "cached OCR outputs"),
  RETENTION_NOTIFICATIONS_DAYS: days(60, "the notifications log")
} as const satisfies Record<string, TunableSpec>

export type TunableKey = keyof typeof TUNABLES
export type Tunables = { readonly [K in TunableKey]: number }
export const TUNABLE_KEYS = Object.keys(TUNABLES) as ReadonlyArray<TunableKey>
export const TunableKey = Schema.Literal(...(TUNABLE_KEYS as [TunableKey, ...Array<TunableKey>]))

export const defaultTunables = (): Tunables =>
  Object.fromEntries(TUNABLE_KEYS.map((k) => [k, TUNABLES[k].default])) as Tunables

/** Own keys only: `constructor`, `toString` and the rest of Object.prototype are not tunables. */
export const isTunableKey = (key: string): key is TunableKey => Object.hasOwn(TUNABLES, key)

/** A value from a request, quoted for a message: never more than a short snippet. */
const snippet = (value: unknown): string => {
  let text: string
  try {
    text = JSON.stringify(value) ?? String(value)
  } catch {
    text = typeof value
  }
  return text.length > 40 ? `${text.slice(0, 40)}…` : text
}

/** Why a value is refused, or undefined when it is acceptable. */
export const tunableProblem = (key: string, value: unknown): string | undefined => {
  if (!isTunableKey(key)) return `unknown tunable ${snippet(key)}`
  const spec = TUNABLES[key]
  if (typeof value !== "number" || !Number.isInteger(value)) {
    return `${key} must be an integer, got ${snippet(value)}`
  }
  if (value < spec.min || value > spec.max) {
    return `${key} must be between ${spec.min} and ${spec.max}, got ${value}`
  }
  return undefined
}

/** Several workers are only safe inside the sandbox (rule: MAX_WORKERS forced to 1 without it). */
export const effectiveMaxWorkers = (t: Pick<Tunables, "MAX_WORKERS" | "SANDBOX_ENABLED">): number =>
  t.SANDBOX_ENABLED === 1 ? t.MAX_WORKERS : 1
