/**
 * Prometheus metrics. Gauges (jobs by state, queue depth, outage) are read
 * from the store at scrape time; counters and the run-duration histogram
 * count events seen on the EventBus since this process started. Process
 * gauges (memory, event loop) come from every process that answers, each
 * labelled `process="kernel|dashboard|exechost"`.
 */
import { Context, Effect, Layer, Option, Queue, Ref } from "effect"
import type { ProcessStats } from "../../schemas/control.ts"
import { ACTIVE_STATES, isActive, TERMINAL_STATES } from "../../schemas/job.ts"
import { EventBus } from "../events.ts"
import { Outage } from "../outage.ts"
import { DashboardReads } from "../store/reads.ts"
import { JobStore } from "../store/jobs.ts"

const JOB_STATE_LIST = [...ACTIVE_STATES, ...TERMINAL_STATES]

/** Seconds; pipelines run from seconds to hours. */
const DURATION_BUCKETS = [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400] as const

interface Histogram {
  readonly buckets: ReadonlyArray<number>
  readonly sum: number
  readonly count: number
}

interface Counters {
  readonly transitions: ReadonlyMap<string, number>
  readonly inserts: ReadonlyMap<string, number>
  readonly firestoreWrites: ReadonlyMap<string, number>
  readonly emails: ReadonlyMap<string, number>
  readonly commands: ReadonlyMap<string, number>
  readonly durations: ReadonlyMap<string, Histogram>
}

const empty: Counters = {
  transitions: new Map(),
  inserts: new Map(),
  firestoreWrites: new Map(),
  emails: new Map(),
  commands: new Map(),
  durations: new Map()
}

const bump = (m: ReadonlyMap<string, number>, key: string) => new Map([...m, [key, (m.get(key) ?? 0) + 1]])

const observe = (h: Histogram | undefined, seconds: number): Histogram => {
  const base = h ?? { buckets: DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 }
  return {
    buckets: base.buckets.map((n, i) => (seconds <= (DURATION_BUCKETS[i] ?? Infinity) ? n + 1 : n)),
    sum: base.sum + seconds,
    count: base.count + 1
  }
}

const label = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")

/** Keys are `a|b` pairs of label values. */
const pairs = (m: ReadonlyMap<string, number>, names: readonly [string, string]) =>
  [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, n]) => {
    const [x = "", y = ""] = key.split("|")
    return { labels: `${names[0]}="${label(x)}",${names[1]}="${label(y)}"`, n }
  })

export interface ProcessGaugesShape {
  /** One entry per process that answered; a process that did not is left out. */
  readonly all: Effect.Effect<ReadonlyArray<ProcessStats>>
}

export class ProcessGauges extends Context.Tag("kernel/http/ProcessGauges")<ProcessGauges, ProcessGaugesShape>() {}

const PROCESS_GAUGES: ReadonlyArray<readonly [string, string, (s: ProcessStats) => number]> = [
  ["lomi_process_resident_memory_bytes", "Resident set size.", (s) => s.rssBytes],
  ["lomi_process_heap_used_bytes", "V8 heap in use.", (s) => s.heapUsedBytes],
  ["lomi_process_heap_total_bytes", "V8 heap reserved.", (s) => s.heapTotalBytes],
  ["lomi_process_event_loop_delay_p50_seconds", "Event-loop delay, median over the last window.", (s) => s.eventLoopDelayP50Ms / 1000],
  ["lomi_process_event_loop_delay_p99_seconds", "Event-loop delay, 99th percentile over the last window.", (s) => s.eventLoopDelayP99Ms / 1000],
  ["lomi_process_event_loop_utilization", "Share of the last window the event loop was busy (0..1).", (s) => s.eventLoopUtilization]
]

export interface MetricsShape {
  readonly render: Effect.Effect<string>
}

export class Metrics extends Context.Tag("kernel/http/Metrics")<Metrics, MetricsShape>() {}

export const metricsLayer = Layer.scoped(
  Metrics,
  Effect.gen(function* () {
    const events = yield* EventBus
    const reads = yield* DashboardReads
    const jobs = yield* JobStore
    const outage = yield* Outage
    const gauges = yield* ProcessGauges
    const counters = yield* Ref.make(empty)

    const runSeconds = (runId: number) =>
      Effect.map(jobs.byId(runId), (row) =>
        Option.flatMap(row, (r) => {
          if (r.started_at === null || r.finished_at === null) return Option.none()
          const ms = Date.parse(r.finished_at) - Date.parse(r.started_at)
          return Number.isFinite(ms) && ms >= 0 ? Option.some({ service: r.service, seconds: ms / 1000 }) : Option.none()
        })
      )

    const subscription = yield* events.subscribe
    yield* Queue.take(subscription).pipe(
      Effect.flatMap((event) => {
        switch (event._tag) {
          case "transition": {
            const counted = Ref.update(counters, (c) => ({ ...c, transitions: bump(c.transitions, `${event.from}|${event.to}`) }))
            if (event.from !== "running" || isActive(event.to)) return counted
            return counted.pipe(
              Effect.zipRight(runSeconds(event.run)),
              Effect.flatMap(
                Option.match({
                  onNone: () => Effect.void,
                  onSome: ({ service, seconds }) =>
                    Ref.update(counters, (c) => ({
                      ...c,
                      durations: new Map([...c.durations, [service, observe(c.durations.get(service), seconds)]])
                    }))
                })
              )
            )
          }
          case "insert":
            return Ref.update(counters, (c) => ({ ...c, inserts: bump(c.inserts, event.state) }))
          case "firestore_write":
            return Ref.update(counters, (c) => ({
              ...c,
              firestoreWrites: bump(c.firestoreWrites, event.ok ? "ok" : "error")
            }))
          case "email":
            return Ref.update(counters, (c) => ({ ...c, emails: bump(c.emails, `${event.template}|${event.status}`) }))
          case "command":
            return Ref.update(counters, (c) => ({
              ...c,
              commands: bump(c.commands, `${event.name}|${event.ok ? "ok" : "refused"}`)
            }))
          default:
            return Effect.void
        }
      }),
      Effect.forever,
      Effect.forkScoped
    )

    const render = Effect.gen(function* () {
      const c = yield* Ref.get(counters)
      const states = yield* reads.stateCounts
      const down = yield* outage.isDown
      const lines: Array<string> = []
      const metric = (name: string, type: string, help: string, samples: ReadonlyArray<string>) => {
        lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples)
      }
      metric(
        "lomi_jobs",
        "gauge",
        "Rows in job_runs by state.",
        JOB_STATE_LIST.map((s) => `lomi_jobs{state="${s}"} ${states.counts.get(s) ?? 0}`)
      )
      const cooling = states.counts.get("waiting_cooldown") ?? 0
      metric("lomi_queue_depth", "gauge", "Work waiting: ready for a worker, cooling down, or on manual hold.", [
        `lomi_queue_depth{queue="ready"} ${states.counts.get("queued") ?? 0}`,
        `lomi_queue_depth{queue="cooldown"} ${cooling - states.syncRetry}`,
        `lomi_queue_depth{queue="sync_retry"} ${states.syncRetry}`,
        `lomi_queue_depth{queue="manual_hold"} ${states.holding}`
      ])
      metric(
        "lomi_job_transitions_total",
        "counter",
        "State transitions of job rows since start.",
        pairs(c.transitions, ["from", "to"]).map((p) => `lomi_job_transitions_total{${p.labels}} ${p.n}`)
      )
      metric(
        "lomi_job_inserts_total",
        "counter",
        "New job rows since start, by initial state.",
        [...c.inserts.entries()].map(([s, n]) => `lomi_job_inserts_total{state="${label(s)}"} ${n}`)
      )
      const durationSamples: Array<string> = []
      for (const [service, h] of [...c.durations.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const svc = `service="${label(service)}"`
        DURATION_BUCKETS.forEach((le, i) => durationSamples.push(`lomi_run_duration_seconds_bucket{${svc},le="${le}"} ${h.buckets[i] ?? 0}`))
        durationSamples.push(
          `lomi_run_duration_seconds_bucket{${svc},le="+Inf"} ${h.count}`,
          `lomi_run_duration_seconds_sum{${svc}} ${h.sum}`,
          `lomi_run_duration_seconds_count{${svc}} ${h.count}`
        )
      }
      metric("lomi_run_duration_seconds", "histogram", "Pipeline run time of attempts finished since start.", durationSamples)
      metric("lomi_firestore_writes_total", "counter", "Firestore status writes since start, by result.", [
        `lomi_firestore_writes_total{result="ok"} ${c.firestoreWrites.get("ok") ?? 0}`,
        `lomi_firestore_writes_total{result="error"} ${c.firestoreWrites.get("error") ?? 0}`
      ])
      metric("lomi_firestore_write_errors_total", "counter", "Failed Firestore status writes since start.", [
        `lomi_firestore_write_errors_total ${c.firestoreWrites.get("error") ?? 0}`
      ])
      metric("lomi_firestore_outage", "gauge", "1 while Firestore is unreachable (outage mode).", [
        `lomi_firestore_outage ${down ? 1 : 0}`
      ])
      metric(
        "lomi_emails_total",
        "counter",
        "Email send attempts since start.",
        pairs(c.emails, ["template", "status"]).map((p) => `lomi_emails_total{${p.labels}} ${p.n}`)
      )
      metric(
        "lomi_commands_total",
        "counter",
        "Operator commands since start.",
        pairs(c.commands, ["name", "result"]).map((p) => `lomi_commands_total{${p.labels}} ${p.n}`)
      )
      const processes = yield* gauges.all
      for (const [name, help, value] of PROCESS_GAUGES) {
        metric(
          name,
          "gauge",
          help,
          processes.map((p) => `${name}{process="${label(p.process)}"} ${value(p)}`)
        )
      }
      return `${lines.join("\n")}\n`
    })

    return { render }
  })
)
