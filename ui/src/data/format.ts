/** How values read on screen. Labels are keyed by the schema's own literals, so a new state fails to compile here. */
import type { CooldownKind } from "../../../schemas/api.ts"
import type { JobState } from "../../../schemas/job.ts"

export const STATE_LABEL: Readonly<Record<JobState, string>> = {
  received: "Received",
  waiting_cooldown: "Waiting (cooldown)",
  queued: "Queued",
  running: "Running",
  succeeded: "Succeeded",
  failed_retrying: "Failed, retrying",
  temp_failed: "Temp failed",
  failed_sync: "Failed sync",
  failed_permanent: "Failed"
}

export const COOLDOWN_LABEL: Readonly<Record<CooldownKind, string>> = {
  fresh_hold: "Gen-Decoder hold",
  retry_delay: "Retry delay",
  temp_fail_delay: "Temp-fail delay",
  sync_retry: "Sync retry",
  ocr_rerun: "OCR re-run"
}

const pad = (n: number) => String(n).padStart(2, "0")

/** Local wall-clock time, to the second. */
export const formatTime = (iso: string | null | undefined): string => {
  if (iso === null || iso === undefined || iso === "") return "—"
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

export const formatSeconds = (seconds: number): string => {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${pad(s % 60)}s`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h ${pad(m % 60)}m`
  return `${Math.floor(h / 24)}d ${h % 24}h`
}

/** "in 3h 02m" or "5m 10s ago". */
export const formatRelative = (iso: string | null | undefined, now: number): string => {
  if (iso === null || iso === undefined) return "—"
  const t = Date.parse(iso)
  if (Number.isNaN(t)) return iso
  const delta = (t - now) / 1000
  if (Math.abs(delta) < 1) return "now"
  return delta > 0 ? `in ${formatSeconds(delta)}` : `${formatSeconds(-delta)} ago`
}

/** Run time of an attempt: start to end, or to now while it runs. */
export const runDuration = (
  run: { readonly started_at: string | null; readonly finished_at: string | null },
  now: number
): string => {
  if (run.started_at === null) return "—"
  const start = Date.parse(run.started_at)
  const end = run.finished_at === null ? now : Date.parse(run.finished_at)
  return Number.isNaN(start) || Number.isNaN(end) ? "—" : formatSeconds((end - start) / 1000)
}

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`
