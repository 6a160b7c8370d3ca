/**
 * The dashboard's HTTP API, defined once. The server implements it
 * (kernel/http), the UI derives its client from it (HttpApiClient.make(Api)),
 * and the authorization tests iterate it.
 *
 * Every endpoint states its access rule twice on purpose: an `Access`
 * annotation (what the rule is, readable by tools) and, unless public, the
 * middleware that enforces it. The authorization matrix test checks that
 * they agree, and fails for an endpoint that has no rule.
 *
 * Commands answer 200 with a CommandResult whenever they reached the command
 * bus (and so the audit log): `ok: false` is a refusal by the owning actor.
 * A 4xx means the request was turned away before that, and nothing changed.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { CommandResult } from "./commands.ts"
import { LiveRunsReport } from "./control.ts"
import { Access, AdminAccess, OperatorAccess, ViewerAccess } from "./api/access.ts"
import { BadRequest, NotFound, NotReady, TooManyAttempts, Unauthorized } from "./api/errors.ts"
import {
  BatchRerunResult,
  BulkResult,
  Charts,
  ChartsQuery,
  CommandLogPage,
  CsvVerdicts,
  DocDrawer,
  DocId,
  DocList,
  HealthRefreshQuery,
  HealthReport,
  JobPage,
  JobsQuery,
  ManualAddCsv,
  ManualAddOne,
  ManualAddVerdict,
  NotificationPage,
  PageParams,
  ProcessQueue,
  Readiness,
  RunIdParam,
  RunLog,
  SessionInfo,
  SetTunables,
  SetTunablesResult,
  SignIn,
  StateCards,
  Sysadmin,
  TunableList,
  UserList
} from "./api/models.ts"
import {
  BatchId,
  BatchJob,
  BatchJobList,
  DocTimeline,
  JobsCsvQuery,
  RestartAccepted,
  RestartRequest,
  RestartStatus
} from "./api/operations.ts"

export * from "./api/access.ts"
export * from "./api/errors.ts"
export * from "./api/models.ts"
export * from "./api/operations.ts"

const RunPath = Schema.Struct({ run: RunIdParam })
const DocPath = Schema.Struct({ doc: DocId })
const BatchPath = Schema.Struct({ batch: BatchId })

/** A Server-Sent Events stream; each `data:` line is one JSON value. */
const EventStream = HttpApiSchema.Text({ contentType: "text/event-stream" })

// ---------------------------------------------------------------------------

export class SessionGroup extends HttpApiGroup.make("session")
  .add(
    HttpApiEndpoint.post("signIn", "/api/session")
      .setPayload(SignIn)
      .addSuccess(SessionInfo)
      .addError(Unauthorized)
      .addError(TooManyAttempts)
      .annotate(Access, "public")
      .annotate(OpenApi.Description, "Sign in; sets the session cookie and returns the CSRF token.")
  )
  .add(
    HttpApiEndpoint.get("whoAmI", "/api/session")
      .addSuccess(SessionInfo)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
  )
  .add(
    HttpApiEndpoint.del("signOut", "/api/session")
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
  )
  .add(
    HttpApiEndpoint.get("listUsers", "/api/users")
      .addSuccess(UserList)
      .annotate(Access, "admin")
      .middleware(AdminAccess)
  )
{}

export class OpsGroup extends HttpApiGroup.make("ops")
  .add(
    HttpApiEndpoint.get("healthz", "/healthz")
      .addSuccess(HttpApiSchema.Text())
      .annotate(Access, "public")
      .annotate(OpenApi.Description, "The process is up.")
  )
  .add(
    HttpApiEndpoint.get("readyz", "/readyz")
      .addSuccess(Readiness)
      .addError(NotReady)
      .annotate(Access, "public")
      .annotate(OpenApi.Description, "The database answers; also says whether Firestore is in outage.")
  )
  .add(
    HttpApiEndpoint.get("metrics", "/metrics")
      .addSuccess(HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" }))
      .annotate(Access, "public")
      .annotate(OpenApi.Description, "Prometheus text format.")
  )
  .add(
    HttpApiEndpoint.get("restartStatus", "/api/restart")
      .addSuccess(RestartStatus)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
      .annotate(OpenApi.Description, "Restart-required tunables whose stored value is not the running one.")
  )
  .add(
    HttpApiEndpoint.post("restart", "/api/restart")
      .setPayload(RestartRequest)
      .addSuccess(RestartAccepted)
      .annotate(Access, "admin")
      .middleware(AdminAccess)
      .annotate(
        OpenApi.Description,
        "Stops the allocator in order and exits with code 75 (restart requested); systemd or the make-run launcher starts it again."
      )
  )
{}

export class DashboardGroup extends HttpApiGroup.make("dashboard")
  .add(
    HttpApiEndpoint.get("stateCards", "/api/state-cards")
      .addSuccess(StateCards)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
  )
  .add(
    HttpApiEndpoint.get("listJobs", "/api/jobs")
      .setUrlParams(JobsQuery)
      .addSuccess(JobPage)
      .addError(BadRequest)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
  )
  .add(
    HttpApiEndpoint.get("needsHuman", "/api/needs-human")
      .setUrlParams(PageParams)
      .addSuccess(JobPage)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
      .annotate(OpenApi.Description, "The rows the Failed card counts: see StateCards.needsHuman.")
  )
  .add(
    HttpApiEndpoint.get("jobsCsv", "/api/jobs.csv")
      .setUrlParams(JobsCsvQuery)
      .addSuccess(HttpApiSchema.Text({ contentType: "text/csv; charset=utf-8" }))
      .addError(BadRequest)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
      .annotate(OpenApi.Description, "Every job row matching the jobs list's filters, newest first, as CSV.")
  )
  .add(
    HttpApiEndpoint.get("docTimeline", "/api/docs/:doc/timeline")
      .setPath(DocPath)
      .addSuccess(DocTimeline)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
  )
  .add(
    HttpApiEndpoint.get("docDrawer", "/api/docs/:doc")
      .setPath(DocPath)
      .addSuccess(DocDrawer)
      .addError(NotFound)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
  )
  .add(
    HttpApiEndpoint.get("runLog", "/api/runs/:run/log")
      .setPath(RunPath)
      .addSuccess(RunLog)
      .addError(NotFound)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
  )
  .add(
    HttpApiEndpoint.get("processQueue", "/api/process-queue")
      .addSuccess(ProcessQueue)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
  )
  .add(
    HttpApiEndpoint.get("tunables", "/api/tunables")
      .addSuccess(TunableList)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
  )
  .add(
    HttpApiEndpoint.get("commandLog", "/api/commands")
      .setUrlParams(PageParams)
      .addSuccess(CommandLogPage)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
  )
  .add(
    HttpApiEndpoint.get("notifications", "/api/notifications")
      .setUrlParams(PageParams)
      .addSuccess(NotificationPage)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
  )
  .add(
    HttpApiEndpoint.get("health", "/api/health")
      .addSuccess(HealthReport)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
      .annotate(OpenApi.Description, "Cached results; each check runs at most once per TTL.")
  )
  .add(
    HttpApiEndpoint.post("refreshHealth", "/api/health/refresh")
      .setUrlParams(HealthRefreshQuery)
      .addSuccess(HealthReport)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
      .annotate(OpenApi.Description, "Re-runs the checks now, whatever the cache holds.")
  )
  .add(
    HttpApiEndpoint.get("charts", "/api/charts")
      .setUrlParams(ChartsQuery)
      .addSuccess(Charts)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
  )
  .add(
    HttpApiEndpoint.get("sysadmin", "/api/sysadmin")
      .addSuccess(Sysadmin)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
  )
{}

export class LiveGroup extends HttpApiGroup.make("live")
  .add(
    HttpApiEndpoint.get("events", "/api/events")
      .addSuccess(EventStream)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
      .annotate(
        OpenApi.Description,
        "Server-Sent Events: every `data:` line is one AllocatorEvent (schemas/events.ts) as JSON."
      )
  )
  .add(
    HttpApiEndpoint.get("runLogStream", "/api/runs/:run/log/stream")
      .setPath(RunPath)
      .addSuccess(EventStream)
      .addError(NotFound)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
      .annotate(
        OpenApi.Description,
        "Server-Sent Events: each `data:` is one log line as a JSON string; an `end` event when the run is over."
      )
  )
{}

export class ExecutorGroup extends HttpApiGroup.make("executor")
  .add(
    HttpApiEndpoint.get("liveRuns", "/api/live-runs")
      .addSuccess(LiveRunsReport)
      .annotate(Access, "viewer")
      .middleware(ViewerAccess)
      .annotate(
        OpenApi.Description,
        "The runs the executor follows right now: the execution host's pipelines (pid) or Slurm jobs (job id, state). Cached for a second; `available: false` when the executor did not answer."
      )
  )
{}

export class JobsGroup extends HttpApiGroup.make("jobs")
  .add(
    HttpApiEndpoint.post("kill", "/api/runs/:run/kill")
      .setPath(RunPath)
      .addSuccess(CommandResult)
      .addError(NotFound)
      .annotate(Access, "operator")
      .middleware(OperatorAccess)
  )
  .add(
    HttpApiEndpoint.post("skip", "/api/runs/:run/skip")
      .setPath(RunPath)
      .addSuccess(CommandResult)
      .addError(NotFound)
      .annotate(Access, "operator")
      .middleware(OperatorAccess)
  )
  .add(
    HttpApiEndpoint.post("retry", "/api/docs/:doc/retry")
      .setPath(DocPath)
      .addSuccess(CommandResult)
      .addError(NotFound)
      .annotate(Access, "operator")
      .middleware(OperatorAccess)
  )
  .add(
    HttpApiEndpoint.post("resetDataReady", "/api/docs/:doc/reset-data-ready")
      .setPath(DocPath)
      .addSuccess(CommandResult)
      .addError(NotFound)
      .annotate(Access, "operator")
      .middleware(OperatorAccess)
  )
  .add(
    HttpApiEndpoint.post("regenerateOcr", "/api/docs/:doc/regenerate-ocr")
      .setPath(DocPath)
      .addSuccess(CommandResult)
      .addError(NotFound)
      .annotate(Access, "operator")
      .middleware(OperatorAccess)
  )
  .add(
    HttpApiEndpoint.post("markFailedForRetry", "/api/docs/:doc/mark-failed-for-retry")
      .setPath(DocPath)
      .addSuccess(CommandResult)
      .addError(NotFound)
      .annotate(Access, "admin")
      .middleware(AdminAccess)
  )
  .add(
    HttpApiEndpoint.post("batchRerun", "/api/batch-rerun")
      .setPayload(DocList)
      .addSuccess(BatchRerunResult)
      .annotate(Access, "admin")
      .middleware(AdminAccess)
      .annotate(
        OpenApi.Description,
        "For each succeeded document: mark-failed-for-retry, then retry. Best effort, one result per document."
      )
  )
  .add(
    HttpApiEndpoint.post("startBatchRerun", "/api/batch-reruns")
      .setPayload(DocList)
      .addSuccess(BatchJob)
      .annotate(Access, "admin")
      .middleware(AdminAccess)
      .annotate(
        OpenApi.Description,
        "Starts a batch rerun on the server and answers at once; it goes on if the page is closed."
      )
  )
  .add(
    HttpApiEndpoint.get("batchReruns", "/api/batch-reruns")
      .addSuccess(BatchJobList)
      .annotate(Access, "admin")
      .middleware(AdminAccess)
  )
  .add(
    HttpApiEndpoint.get("batchRerunStatus", "/api/batch-reruns/:batch")
      .setPath(BatchPath)
      .addSuccess(BatchJob)
      .addError(NotFound)
      .annotate(Access, "admin")
      .middleware(AdminAccess)
  )
  .add(
    HttpApiEndpoint.get("batchRerunStream", "/api/batch-reruns/:batch/stream")
      .setPath(BatchPath)
      .addSuccess(EventStream)
      .addError(NotFound)
      .annotate(Access, "admin")
      .middleware(AdminAccess)
      .annotate(
        OpenApi.Description,
        "Server-Sent Events: each `data:` is the whole BatchJob after a change; an `end` event when it finished."
      )
  )
{}

export class HoldsGroup extends HttpApiGroup.make("holds")
  .add(
    HttpApiEndpoint.post("validateManualAdd", "/api/manual-add/validate")
      .setPayload(ManualAddOne)
      .addSuccess(ManualAddVerdict)
      .annotate(Access, "operator")
      .middleware(OperatorAccess)
      .annotate(OpenApi.Description, "Runs Manual Add's checks without adding anything.")
  )
  .add(
    HttpApiEndpoint.post("validateManualAddCsv", "/api/manual-add/validate-csv")
      .setPayload(ManualAddCsv)
      .addSuccess(CsvVerdicts)
      .annotate(Access, "operator")
      .middleware(OperatorAccess)
  )
  .add(
    HttpApiEndpoint.post("manualAdd", "/api/manual-add")
      .setPayload(DocList)
      .addSuccess(BulkResult)
      .annotate(Access, "operator")
      .middleware(OperatorAccess)
  )
  .add(
    HttpApiEndpoint.post("release", "/api/holds/:doc/release")
      .setPath(DocPath)
      .addSuccess(CommandResult)
      .addError(NotFound)
      .annotate(Access, "operator")
      .middleware(OperatorAccess)
  )
  .add(
    HttpApiEndpoint.post("cancelHold", "/api/holds/:doc/cancel")
      .setPath(DocPath)
      .addSuccess(CommandResult)
      .addError(NotFound)
      .annotate(Access, "operator")
      .middleware(OperatorAccess)
  )
  .add(
    HttpApiEndpoint.post("releaseMany", "/api/holds/release")
      .setPayload(DocList)
      .addSuccess(BulkResult)
      .annotate(Access, "operator")
      .middleware(OperatorAccess)
  )
  .add(
    HttpApiEndpoint.post("cancelMany", "/api/holds/cancel")
      .setPayload(DocList)
      .addSuccess(BulkResult)
      .annotate(Access, "operator")
      .middleware(OperatorAccess)
  )
{}

export class TunablesGroup extends HttpApiGroup.make("tunables")
  .add(
    HttpApiEndpoint.put("setTunables", "/api/tunables")
      .setPayload(SetTunables)
      .addSuccess(SetTunablesResult)
      .annotate(Access, "admin")
      .middleware(AdminAccess)
      .annotate(OpenApi.Description, "Several keys at once; all are validated before any is stored.")
  )
{}

export class Api extends HttpApi.make("lomi-allocator")
  .add(SessionGroup)
  .add(OpsGroup)
  .add(DashboardGroup)
  .add(LiveGroup)
  .add(ExecutorGroup)
  .add(JobsGroup)
  .add(HoldsGroup)
  .add(TunablesGroup)
  .addError(BadRequest)
  .annotate(OpenApi.Title, "Lomi allocator dashboard API")
{}
