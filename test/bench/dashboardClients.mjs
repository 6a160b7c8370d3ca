/**
 * The dashboard-load bench's clients, in a process of their own so that
 * their work does not starve the Firestore emulator in the bench's process
 * (which would slow intake for reasons that are not the allocator's).
 *
 *   node test/bench/dashboardClients.mjs <base> <clients> <sse> <seconds> <historyRows> <user> <password>
 *
 * Prints one JSON line: list and search latencies (ms, 200 answers only),
 * refusals (503), other failures by status, SSE streams opened and data
 * lines received.
 *
 * A client refused with 503 waits what Retry-After says before its next
 * request, as a polite client does; an SSE client refused, or dropped (a
 * stream that ends before the run does), opens its stream again after the
 * `retry` the server sent (3 s), as EventSource does.
 */
const [base, clientsArg, sseArg, secondsArg, historyArg, user, password] = process.argv.slice(2)
const CLIENTS = Number(clientsArg)
const SSE = Math.min(CLIENTS, Number(sseArg))
const SECONDS = Number(secondsArg)
const HISTORY = Number(historyArg)
const STATES = ["succeeded", "queued", "running", "failed_permanent", "waiting_cooldown"]

import { monitorEventLoopDelay } from "node:perf_hooks"

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const signIn = async () => {
  const r = await fetch(`${base}/api/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: user, password })
  })
  if (r.status !== 200) throw new Error(`sign-in failed: ${r.status} ${await r.text()}`)
  const cookie = /lomi_session=([^;]*)/.exec(r.headers.get("set-cookie") ?? "")?.[1]
  if (cookie === undefined) throw new Error("no session cookie")
  return `lomi_session=${cookie}`
}

/** What an operator types: part of a document number (3-5 digits). */
const randomQuery = () => {
  const digits = String(Math.floor(Math.random() * HISTORY)).padStart(5, "0")
  const len = 3 + Math.floor(Math.random() * 3)
  const start = Math.floor(Math.random() * (digits.length - len + 1))
  return digits.slice(start, start + len)
}

const main = async () => {
  const cookie = await signIn()
  // This process's own delay: latencies include it, so the bench prints it beside them.
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  const out = { list: [], search: [], refused: 0, failed: 0, statuses: {}, sseOpen: 0, sseEvents: 0, sseDropped: 0 }
  const t0 = performance.now()
  const ends = t0 + SECONDS * 1000
  const controllers = []

  const sseClient = async () => {
    const controller = new AbortController()
    controllers.push(controller)
    while (performance.now() < ends) {
      try {
        const r = await fetch(`${base}/api/events`, { headers: { cookie, accept: "text/event-stream" }, signal: controller.signal })
        if (r.status === 503) out.refused += 1
        else if (r.body !== null) {
          out.sseOpen += 1
          const reader = r.body.getReader()
          const decoder = new TextDecoder()
          for (;;) {
            const { value, done } = await reader.read()
            if (done) break
            out.sseEvents += (decoder.decode(value, { stream: true }).match(/^data: /gm) ?? []).length
          }
          out.sseDropped += 1
        }
      } catch {
        if (controller.signal.aborted) return
        out.sseDropped += 1
      }
      await sleep(3000)
    }
  }

  const pageClient = async (kind) => {
    while (performance.now() < ends) {
      const url =
        kind === "list"
          ? `${base}/api/jobs?limit=50${Math.random() < 0.5 ? `&state=${STATES[Math.floor(Math.random() * STATES.length)]}` : ""}${
              Math.random() < 0.5 ? `&cursor=${1 + Math.floor(Math.random() * HISTORY)}` : ""
            }`
          : `${base}/api/jobs?limit=50&q=${encodeURIComponent(randomQuery())}`
      const began = performance.now()
      try {
        const r = await fetch(url, { headers: { cookie } })
        await r.arrayBuffer()
        const took = performance.now() - began
        if (r.status === 503) {
          out.refused += 1
          await sleep(1000 * Number(r.headers.get("retry-after") ?? "1"))
        } else if (r.status !== 200) {
          out.failed += 1
          out.statuses[r.status] = (out.statuses[r.status] ?? 0) + 1
        } else {
          out[kind].push(Math.round(took * 10) / 10)
          if (took > 1000 && process.env.DL_DEBUG) (out.slow ??= []).push([Math.round(began - t0), Math.round(took)])
        }
      } catch (e) {
        out.failed += 1
        const why = `thrown: ${e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(e)}`
        out.statuses[why] = (out.statuses[why] ?? 0) + 1
      }
    }
  }

  const lists = Math.floor((CLIENTS - SSE) / 2)
  const searches = CLIENTS - SSE - lists
  const streams = Array.from({ length: SSE }, () => sseClient())
  await Promise.all([
    ...Array.from({ length: lists }, () => pageClient("list")),
    ...Array.from({ length: searches }, () => pageClient("search"))
  ])
  for (const c of controllers) c.abort()
  await Promise.all(streams)
  out.clientDelayP99Ms = delay.percentile(99) / 1e6
  out.clientCpuMs = (process.cpuUsage().user + process.cpuUsage().system) / 1000
  process.stdout.write(`${JSON.stringify(out)}\n`)
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`dashboard clients failed: ${e instanceof Error ? e.message : String(e)}\n`)
    process.exit(1)
  }
)
