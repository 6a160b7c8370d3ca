/**
 * The shapes the dashboard reads and sends. Derived from the domain schemas
 * (job states, tunables, commands) so that no enum is written twice.
 */
import { Schema } from "effect"
import { CommandResult } from "../commands.ts"
import { HealthCheckName, HealthResult } from "../health.ts"
import { JobRun, JobState, ManualHold, Service } from "../job.ts"
import { isSafeSegment } from "../report.ts"
import { TunableKey, tunableProblem } from "../tunables.ts"
import { Role } from "./access.ts"

// ---------------------------------------------------------------------------
// Identifiers and query parameters

/** A Firestore report id as it may reach the file system: no '/', no '..'. */
export const DocId = Schema.String.pipe(
  Schema.filter(
    (s) =>
      isSafeSegment(s) ||
      `${JSON.stringify(s)} is not a valid document id (1-128 letters, digits, '.', '_' or '-', starting with a letter or digit, no '..')`
  )
).annotations({ identifier: "DocId" })

const positiveInt = (what: string) =>
  Schema.Int.pipe(
    Schema.filter((n) => (n >= 1 && n <= Number.MAX_SAFE_INTEGER) || `${what} must be a positive integer, got ${n}`)
  )

/** A job_runs id in a path or query string. */
export const RunIdParam = Schema.NumberFromString.pipe(Schema.compose(positiveInt("run id"))).annotations({
  identifier: "RunId"
})

const Limit = Schema.NumberFromString.pipe(
  Schema.compose(Schema.Int.pipe(Schema.filter((n) => (n >= 1 && n <= 200) || `limit must be 1-200, got ${n}`)))
)

/** `YYYY-MM-DD` (a whole UTC day) or a full ISO-8601 UTC instant. */
export const DateParam = Schema.String.pipe(
  Schema.filter(
    (s) =>
      (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z)?$/.test(s) && !Number.isNaN(Date.parse(s))) ||
      `${JSON.stringify(s)} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS.sssZ)`
  )
)

/** `state=queued` or `state=failed_retrying,temp_failed`. */
export const StateList = Schema.compose(Schema.split(","), Schema.NonEmptyArray(JobState)).annotations({
  identifier: "StateList",
  description: "one job state, or several separated by commas"
})

export const PageParams = Schema.Struct({
  /** Return rows with id below this (the previous page's nextCursor). */
  cursor: Schema.optional(RunIdParam),
  limit: Schema.optional(Limit)
})

export const JobsQuery = Schema.Struct({
  state: Schema.optional(StateList),
  service: Schema.optional(Service),
  /** Received (created_at) on or after this. */
  from: Schema.optional(DateParam),
  /** Received before this; a plain date includes that whole day. */
  to: Schema.optional(DateParam),
  /** Case-insensitive substring (so also prefix) of the document id or the patient id. */
  q: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128))),
  cursor: Schema.optional(RunIdParam),
  limit: Schema.optional(Limit)
})
export type JobsQuery = typeof JobsQuery.Type

// ---------------------------------------------------------------------------
// Session

export const SignIn = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)),
  password: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1024))
})

export const SessionInfo = Schema.Struct({
  user: Schema.String,
  role: Role,
  /** Send this in the x-csrf-token header on every mutating request. */
  csrfToken: Schema.String,
  expiresAt: Schema.String
})
export type SessionInfo = typeof SessionInfo.Type

export const UserList = Schema.Struct({
  users: Schema.Array(Schema.Struct({ name: Schema.String, role: Role })),
  /** True when no users are configured and a first-run admin was generated. */
  bootstrap: Schema.Boolean
})

// ---------------------------------------------------------------------------
// Reads

export const StateCounts = Schema.Record({ key: JobState, value: Schema.Number })

export const StateCards = Schema.Struct({
  /** Rows per state in job_runs. */
  counts: StateCounts,
  running: Schema.Number,
  queued: Schema.Number,
  /** waiting_cooldown rows (sync retries included) plus holding manual holds. */
  waiting: Schema.Struct({
    total: Schema.Number,
    cooldown: Schema.Number,
    syncRetry: Schema.Number,
    manualHolds: Schema.Number
  }),
  succeeded: Schema.Number,
  /** failed_retrying + temp_failed: usually resolve themselves. */
  retrying: Schema.Number,
  /** failed_permanent rows, all of them. */
  failed: Schema.Number,
  /**
   * What needs a human: documents whose newest row is failed_permanent and was
   * not ended on purpose (a withdrawal, a kill, or the intermediate row of
   * mark-failed-for-retry or a batch rerun).
   */
  needsHuman: Schema.Number,
  failedSync: Schema.Number,
  outage: Schema.Boolean
})
export type StateCards = typeof StateCards.Type

export const JobPage = Schema.Struct({
  items: Schema.Array(JobRun),
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: Schema.NullOr(Schema.Number)
})
export type JobPage = typeof JobPage.Type

export const RunLog = Schema.Struct({
  run: Schema.Number,
  doc: Schema.String,
  attempt: Schema.Number,
  exists: Schema.Boolean,
  /** Bytes in the file. */
  size: Schema.Number,
  /** True when only the end of the file is included. */
  truncated: Schema.Boolean,
  content: Schema.String
})
export type RunLog = typeof RunLog.Type

export const FirestoreView = Schema.Struct({
  status: Schema.Literal("found", "missing", "unreachable"),
  data: Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  error: Schema.NullOr(Schema.String)
})

export const DocDrawer = Schema.Struct({
  doc: Schema.String,
  /** Every attempt, oldest first. */
  runs: Schema.Array(JobRun),
  holds: Schema.Array(ManualHold),
  /** The report as Firestore has it now. */
  firestore: FirestoreView,
  /** One entry per attempt (same order as runs); long logs keep their end. */
  logs: Schema.Array(RunLog)
})
export type DocDrawer = typeof DocDrawer.Type

export const CooldownKind = Schema.Literal("fresh_hold", "retry_delay", "temp_fail_delay", "sync_retry", "ocr_rerun")
export type CooldownKind = typeof CooldownKind.Type

export const QueueHold = Schema.TaggedStruct("hold", {
  hold: Schema.Number,
  doc: Schema.String,
  service: Schema.String,
  patientId: Schema.String,
  /** From the report in Firestore; null when it has none or cannot be read now. */
  patientName: Schema.NullOr(Schema.String),
  createdAt: Schema.String,
  createdBy: Schema.NullOr(Schema.String)
})

export const QueueCooldown = Schema.TaggedStruct("cooldown", {
  run: Schema.Number,
  doc: Schema.String,
  service: Schema.String,
  patientId: Schema.NullOr(Schema.String),
  patientName: Schema.NullOr(Schema.String),
  attempt: Schema.Number,
  dueAt: Schema.NullOr(Schema.String),
  kind: CooldownKind,
  /** State of the document's previous row, which the kind is derived from. */
  previousState: Schema.NullOr(JobState),
  notes: Schema.NullOr(Schema.String),
  createdAt: Schema.String
})

export const ProcessQueue = Schema.Struct({
  /** Holding manual holds first (oldest first), then cooling rows by due time. */
  items: Schema.Array(Schema.Union(QueueHold, QueueCooldown))
})
export type ProcessQueue = typeof ProcessQueue.Type

export const TunableView = Schema.Struct({
  key: TunableKey,
  description: Schema.String,
  default: Schema.Number,
  current: Schema.Number,
  min: Schema.Number,
  max: Schema.Number,
  restartRequired: Schema.Boolean,
  updatedAt: Schema.NullOr(Schema.String),
  updatedBy: Schema.NullOr(Schema.String)
})

export const TunableList = Schema.Struct({
  items: Schema.Array(TunableView),
  /** MAX_WORKERS as the allocator applies it (1 while the sandbox is off). */
  effectiveMaxWorkers: Schema.Number
})

export const CommandLogEntry = Schema.Struct({
  id: Schema.Number,
  at: Schema.String,
  user: Schema.String,
  name: Schema.String,
  args: Schema.Unknown,
  status: Schema.Literal("started", "ok", "refused", "error"),
  result: Schema.NullOr(Schema.String),
  finishedAt: Schema.NullOr(Schema.String)
})

export const CommandLogPage = Schema.Struct({
  items: Schema.Array(CommandLogEntry),
  nextCursor: Schema.NullOr(Schema.Number)
})

export const NotificationEntry = Schema.Struct({
  id: Schema.Number,
  at: Schema.String,
  template: Schema.String,
  doc: Schema.NullOr(Schema.String),
  recipients: Schema.String,
  status: Schema.Literal("ok", "failed", "skipped"),
  error: Schema.NullOr(Schema.String)
})

export const NotificationPage = Schema.Struct({
  items: Schema.Array(NotificationEntry),
  nextCursor: Schema.NullOr(Schema.Number)
})

export const HealthReport = Schema.Struct({
  /** firestore, gemini, ocr, in that order. */
  checks: Schema.Array(HealthResult)
})

export const HealthRefreshQuery = Schema.Struct({
  /** Re-run only this check; all of them when absent. */
  name: Schema.optional(HealthCheckName)
})

export const ChartRange = Schema.Literal("7d", "30d")
export const ChartsQuery = Schema.Struct({ range: Schema.optional(ChartRange) })

export const Charts = Schema.Struct({
  range: ChartRange,
  /** Days are calendar days in this zone (the server's configured timezone). */
  timezone: Schema.String,
  days: Schema.Array(Schema.String),
  finishedByOutcome: Schema.Array(
    Schema.Struct({
      day: Schema.String,
      succeeded: Schema.Number,
      failed_retrying: Schema.Number,
      temp_failed: Schema.Number,
      failed_sync: Schema.Number,
      failed_permanent: Schema.Number
    })
  ),
  /** Pipeline run time (started_at to finished_at) of finished runs, per day and service. */
  durationByService: Schema.Array(
    Schema.Struct({
      day: Schema.String,
      service: Schema.String,
      runs: Schema.Number,
      avgSeconds: Schema.Number,
      maxSeconds: Schema.Number
    })
  ),
  failuresByService: Schema.Array(
    Schema.Struct({
      service: Schema.String,
      failed_retrying: Schema.Number,
      temp_failed: Schema.Number,
      failed_sync: Schema.Number,
      failed_permanent: Schema.Number,
      total: Schema.Number
    })
  ),
  /** Approximated from created/scheduled/started/finished timestamps, sampled across the window. */
  queueDepth: Schema.Array(
    Schema.Struct({ at: Schema.String, waiting: Schema.Number, queued: Schema.Number, running: Schema.Number })
  )
})
export type Charts = typeof Charts.Type

export const Snippet = Schema.Struct({
  id: Schema.String,
  title: Schema.String,
  description: Schema.String,
  command: Schema.String
})
export const Sysadmin = Schema.Struct({ snippets: Schema.Array(Snippet) })

// ---------------------------------------------------------------------------
// Commands

export const DocList = Schema.Struct({
  docs: Schema.Array(DocId).pipe(Schema.minItems(1), Schema.maxItems(200))
})

export const ItemResult = Schema.Struct({
  doc: Schema.String,
  ok: Schema.Boolean,
  message: Schema.String,
  run: Schema.optional(Schema.Number)
})

/** Best effort: each item is tried on its own; `ok` only when all of them worked. */
export const BulkResult = Schema.Struct({
  ok: Schema.Boolean,
  message: Schema.String,
  results: Schema.Array(ItemResult)
})
export type BulkResult = typeof BulkResult.Type

export const BatchRerunResult = Schema.Struct({
  ok: Schema.Boolean,
  message: Schema.String,
  results: Schema.Array(
    Schema.Struct({
      doc: Schema.String,
      ok: Schema.Boolean,
      message: Schema.String,
      markFailed: CommandResult,
      /** Null when mark-failed-for-retry was refused, so retry was not tried. */
      retry: Schema.NullOr(CommandResult)
    })
  )
})

export const ManualAddVerdict = Schema.Struct({
  doc: Schema.String,
  ok: Schema.Boolean,
  /** Why it is refused, or a one-line summary of what would be added. */
  message: Schema.String,
  service: Schema.NullOr(Schema.String),
  patientId: Schema.NullOr(Schema.String),
  patientName: Schema.NullOr(Schema.String)
})
export type ManualAddVerdict = typeof ManualAddVerdict.Type

export const ManualAddOne = Schema.Struct({ doc: DocId })

export const ManualAddCsv = Schema.Struct({
  /** One report_id per line; an optional `report_id` header; blank lines are skipped. */
  csv: Schema.String.pipe(Schema.maxLength(1024 * 1024))
})

export const CsvVerdicts = Schema.Struct({
  rows: Schema.Array(Schema.extend(ManualAddVerdict, Schema.Struct({ line: Schema.Number }))),
  /** Ids that passed, in file order, ready for POST /api/manual-add. */
  accepted: Schema.Array(Schema.String),
  rejected: Schema.Number
})

/** Several tunables at once. Every value is checked before any is stored. */
export const SetTunables = Schema.Struct({
  values: Schema.Record({ key: Schema.String, value: Schema.Number }).pipe(
    Schema.filter((values) => {
      const keys = Object.keys(values)
      if (keys.length === 0) return "give at least one tunable"
      const problems = keys.flatMap((k) => {
        const problem = tunableProblem(k, values[k])
        return problem === undefined ? [] : [problem]
      })
      return problems.length === 0 || problems.join("; ")
    })
  )
})

export const SetTunablesResult = Schema.Struct({
  ok: Schema.Boolean,
  message: Schema.String,
  results: Schema.Array(Schema.Struct({ key: Schema.String, ok: Schema.Boolean, message: Schema.String })),
  /** Keys whose new value only takes effect after a restart. */
  restartRequired: Schema.Array(TunableKey)
})

// ---------------------------------------------------------------------------
// Ops

export const Readiness = Schema.Struct({
  ready: Schema.Boolean,
  database: Schema.Literal("ok"),
  /** The allocator keeps serving during a Firestore outage; this says whether one is on. */
  outage: Schema.Boolean
})
