/**
 * HTTP API benchmark (run with tsx; `make bench` calls it). Prints a
 * markdown report on stdout, progress on stderr.
 *
 * 1. Jobs list and search over a store with BENCH_ROWS (default 1,000,000)
 *    job_runs rows: the file is migrated through the store layer, filled
 *    directly with better-sqlite3, then served by the real HTTP layer on a
 *    loopback port. Each case is timed end to end over HTTP (p50/p95), next
 *    to the same SQL run raw on better-sqlite3 in the same process as the
 *    baseline. Searches are measured first without migration 2's trigram
 *    index (the scan baseline), then with it rebuilt (SEARCH_INDEX_SQL).
 * 2. SSE fan-out: BENCH_SSE_CLIENTS (default 50) clients on /api/events,
 *    BENCH_SSE_EVENTS events published; every client must receive every
 *    event, in order.
 *
 * Target: p95 < 50 ms per request.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { HttpServer } from "@effect/platform"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { EventBus } from "../../kernel/events.ts"
import { hashPassword, httpLayer } from "../../kernel/http/server.ts"
import { databaseFile } from "../../kernel/paths.ts"
import { databaseLayer } from "../../kernel/store/database.ts"
import { SEARCH_INDEX_SQL } from "../../kernel/store/reads.ts"

const DROP_SEARCH_INDEX = [
  "DROP TRIGGER job_runs_search_ai",
  "DROP TRIGGER job_runs_search_ad",
  "DROP TRIGGER job_runs_search_au",
  "DROP TABLE job_runs_search"
]
import { allocatorOn, testConfig, worldLayer } from "../support/allocator.ts"
import { clientFor, cookieFrom, openSse, send } from "../http/support.ts"

// better-sqlite3 ships no types; this is the part the benchmark uses.
interface RawStatement {
  run(...params: ReadonlyArray<unknown>): unknown
  all(...params: ReadonlyArray<unknown>): Array<unknown>
}
interface RawDatabase {
  prepare(sql: string): RawStatement
  exec(sql: string): void
  pragma(pragma: string): unknown
  transaction<A extends ReadonlyArray<unknown>>(fn: (...args: A) => void): (...args: A) => void
  close(): void
}
const Database = createRequire(import.meta.url)("better-sqlite3") as new (file: string) => RawDatabase

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000)
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200)
const SSE_CLIENTS = Number(process.env.BENCH_SSE_CLIENTS ?? 50)
const SSE_EVENTS = Number(process.env.BENCH_SSE_EVENTS ?? 500)
const TARGET_P95_MS = 50

const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`)

// ---------------------------------------------------------------------------
// Data: deterministic, shaped like production (mostly terminal rows, a year of history)

let seed = 20260101
const random = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
  return seed / 2 ** 32
}
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
const docId = () => Array.from({ length: 20 }, () => ALPHABET[Math.floor(random() * ALPHABET.length)]).join("")
const SERVICES = ["Gen-Decoder", "Epi-Insight", "Omni-Health"] as const
const YEAR_MS = 365 * 86_400_000

const pickState = (r: number) =>
  r < 0.8 ? "succeeded" : r < 0.9 ? "failed_retrying" : r < 0.95 ? "temp_failed" : r < 0.999 ? "failed_permanent" : "failed_sync"

const fill = (file: string, rows: number, now: number, before: ReadonlyArray<string>) => {
  const db = new Database(file)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = OFF")
  for (const statement of before) db.exec(statement)
  const insert = db.prepare(`INSERT INTO job_runs (doc_id, service, patient_id, patient_name, state, attempt,
    scheduled_run_at, started_at, finished_at, exit_code, created_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
  const samples: Array<string> = []
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const created = now - YEAR_MS + Math.floor((i / rows) * YEAR_MS)
      const cooling = i >= rows - 100
      const state = cooling ? "waiting_cooldown" : pickState(random())
      const doc = docId()
      if (i % Math.max(1, Math.floor(rows / 20)) === 7) samples.push(doc)
      const iso = (ms: number) => new Date(ms).toISOString()
      const started = created + 60_000
      const finished = started + Math.floor(random() * 3_600_000)
      insert.run(
        doc,
        SERVICES[i % 3],
        `P${String(Math.floor(random() * 200_000)).padStart(6, "0")}`,
        null,
        state,
        1 + Math.floor(random() * 3),
        cooling ? iso(now + YEAR_MS) : iso(created),
        cooling ? null : iso(started),
        cooling ? null : iso(finished),
        cooling ? null : state === "succeeded" ? 0 : 1,
        iso(created),
        iso(cooling ? created : finished)
      )
    }
  })
  const chunk = 50_000
  for (let i = 0; i < rows; i += chunk) {
    batch(i, Math.min(rows, i + chunk))
    if ((i / chunk) % 4 === 0) progress(`inserted ${i + chunk} rows`)
  }
  db.pragma("synchronous = NORMAL")
  return { db, samples }
}

// ---------------------------------------------------------------------------
// Timing

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN

interface Timing {
  readonly p50: number
  readonly p95: number
  readonly count: number
}

const timeAsync = async (iterations: number, run: () => Promise<number>): Promise<Timing> => {
  for (let i = 0; i < Math.min(10, iterations); i++) await run()
  const times: Array<number> = []
  let count = 0
  for (let i = 0; i < iterations; i++) {
    const start = performance.now()
    count = await run()
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  return { p50: percentile(times, 50), p95: percentile(times, 95), count }
}

const ms = (n: number) => n.toFixed(2)

// ---------------------------------------------------------------------------

interface Case {
  readonly name: string
  readonly query: string
  /** The SQL the store runs for this case, for the raw baseline. */
  readonly raw: string
  readonly params: ReadonlyArray<unknown>
  /** A search: measured again with the trigram index, whose SQL is then the baseline. */
  readonly search?: string
}

const FTS_SQL = `SELECT j.* FROM job_runs_search s JOIN job_runs j ON j.id = s.rowid
  WHERE job_runs_search MATCH ? ORDER BY s.rowid DESC LIMIT 51`
const phrase = (q: string) => `"${q.replace(/"/g, '""')}"`

const like = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`

const program = Effect.gen(function* () {
  const dir = mkdtempSync(join(tmpdir(), "lomi-bench-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
  const base = testConfig(dir)
  const file = databaseFile(base.dataDir)
  const now = Date.now()

  progress(`migrating ${file} through the store layer`)
  yield* Effect.scoped(Layer.build(databaseLayer(file)))
  progress(`inserting ${ROWS} job_runs rows with better-sqlite3`)
  const started = performance.now()
  // The scan is the baseline: take migration 2's search index away while filling; it is rebuilt below.
  const { db, samples } = fill(file, ROWS, now, DROP_SEARCH_INDEX)
  const fillSeconds = (performance.now() - started) / 1000

  const password = "bench-password"
  const config = {
    ...base,
    http: { host: "127.0.0.1", port: 0, users: [{ name: "bench", role: "admin" as const, passwordHash: yield* hashPassword(password) }] }
  }
  progress("starting the allocator and the HTTP layer")
  const context = yield* Layer.build(
    httpLayer(config).pipe(Layer.provideMerge(allocatorOn(config)), Layer.provideMerge(worldLayer(config)))
  )
  const address = yield* Effect.provide(HttpServer.HttpServer, context)
  const url = `http://127.0.0.1:${address.address._tag === "TcpAddress" ? address.address.port : 0}`
  const signedIn = yield* send(url, "POST", "/api/session", { body: { name: "bench", password } })
  const cookie = cookieFrom(signedIn)
  if (cookie._tag === "None") return yield* Effect.dieMessage("sign-in failed")
  const client = clientFor(url, "bench", cookie.value, (signedIn.body as { csrfToken: string }).csrfToken)

  const sample = samples[Math.min(3, samples.length - 1)] ?? "AAAAAAAAAAAAAAAAAAAA"
  const middleId = Math.floor(ROWS / 2)
  const weekAgo = new Date(now - 7 * 86_400_000).toISOString()
  const cases: ReadonlyArray<Case> = [
    { name: "first page (limit 50)", query: "?limit=50", raw: "SELECT * FROM job_runs ORDER BY id DESC LIMIT 51", params: [] },
    {
      name: "deep page (cursor mid-table)",
      query: `?limit=50&cursor=${middleId}`,
      raw: "SELECT * FROM job_runs WHERE id < ? ORDER BY id DESC LIMIT 51",
      params: [middleId]
    },
    {
      name: "state=failed_permanent (5%)",
      query: "?state=failed_permanent",
      raw: "SELECT * FROM job_runs WHERE +state IN ('failed_permanent') ORDER BY id DESC LIMIT 51",
      params: []
    },
    {
      name: "state=failed_sync (0.1%)",
      query: "?state=failed_sync",
      raw: "SELECT * FROM job_runs WHERE +state IN ('failed_sync') ORDER BY id DESC LIMIT 51",
      params: []
    },
    {
      name: "state=failed_retrying,temp_failed",
      query: "?state=failed_retrying,temp_failed",
      raw: "SELECT * FROM job_runs WHERE +state IN ('failed_retrying','temp_failed') ORDER BY id DESC LIMIT 51",
      params: []
    },
    {
      name: "state=waiting_cooldown (active, 100 rows)",
      query: "?state=waiting_cooldown",
      raw: "SELECT * FROM job_runs WHERE state IN ('waiting_cooldown') ORDER BY id DESC LIMIT 51",
      params: []
    },
    {
      name: "service=Omni-Health",
      query: "?service=Omni-Health",
      raw: "SELECT * FROM job_runs WHERE +service = 'Omni-Health' ORDER BY id DESC LIMIT 51",
      params: []
    },
    {
      name: "received in the last 7 days",
      query: `?from=${weekAgo}`,
      raw: "SELECT * FROM job_runs WHERE +created_at >= ? ORDER BY id DESC LIMIT 51",
      params: [weekAgo]
    },
    {
      name: "search: doc id prefix, lower case",
      query: `?q=${sample.slice(0, 8).toLowerCase()}`,
      raw: "SELECT * FROM job_runs WHERE (doc_id LIKE ? ESCAPE '\\' OR patient_id LIKE ? ESCAPE '\\') ORDER BY id DESC LIMIT 51",
      params: [like(sample.slice(0, 8).toLowerCase()), like(sample.slice(0, 8).toLowerCase())],
      search: sample.slice(0, 8).toLowerCase()
    },
    {
      name: "search: doc id substring",
      query: `?q=${sample.slice(6, 13)}`,
      raw: "SELECT * FROM job_runs WHERE (doc_id LIKE ? ESCAPE '\\' OR patient_id LIKE ? ESCAPE '\\') ORDER BY id DESC LIMIT 51",
      params: [like(sample.slice(6, 13)), like(sample.slice(6, 13))],
      search: sample.slice(6, 13)
    },
    {
      name: "search: patient id",
      query: "?q=p012345",
      raw: "SELECT * FROM job_runs WHERE (doc_id LIKE ? ESCAPE '\\' OR patient_id LIKE ? ESCAPE '\\') ORDER BY id DESC LIMIT 51",
      params: [like("p012345"), like("p012345")],
      search: "p012345"
    },
    {
      name: "search: no match",
      query: "?q=no-such-id",
      raw: "SELECT * FROM job_runs WHERE (doc_id LIKE ? ESCAPE '\\' OR patient_id LIKE ? ESCAPE '\\') ORDER BY id DESC LIMIT 51",
      params: [like("no-such-id"), like("no-such-id")],
      search: "no-such-id"
    },
    {
      name: "search: 2 characters (common)",
      query: "?q=ab",
      raw: "SELECT * FROM job_runs WHERE (doc_id LIKE ? ESCAPE '\\' OR patient_id LIKE ? ESCAPE '\\') ORDER BY id DESC LIMIT 51",
      params: [like("ab"), like("ab")],
      search: "ab"
    }
  ]

  const iterationsFor = (c: Case, indexed: boolean) =>
    c.search !== undefined && !indexed ? Math.min(ITERATIONS, 40) : ITERATIONS

  const measure = (c: Case, indexed: boolean) =>
    Effect.promise(async () => {
      const iterations = iterationsFor(c, indexed)
      const http = await timeAsync(iterations, async () => {
        // A keep-alive socket the server closed while raw queries blocked this process is retried once.
        const get = Effect.runPromise(client.get(`/api/jobs${c.query}`))
        const reply = await get.catch(() => Effect.runPromise(client.get(`/api/jobs${c.query}`)))
        if (reply.status !== 200) throw new Error(`${c.query}: ${reply.status} ${reply.text}`)
        return (reply.body as { items: ReadonlyArray<unknown> }).items.length
      })
      // With the index, searches of 3+ characters use it; shorter ones still scan.
      const viaIndex = indexed && c.search !== undefined && c.search.length >= 3
      const statement = db.prepare(viaIndex ? FTS_SQL : c.raw)
      const params = viaIndex && c.search !== undefined ? [phrase(c.search)] : c.params
      const raw = await timeAsync(iterations, async () => statement.all(...params).length)
      return { c, http, raw, iterations }
    })

  const lines: Array<string> = []
  const out = (line = "") => lines.push(line)
  out(`# API benchmark`)
  out()
  out(`${ROWS.toLocaleString("en-US")} job_runs rows (filled in ${fillSeconds.toFixed(1)} s); target p95 < ${TARGET_P95_MS} ms per request.`)
  out(`HTTP = GET /api/jobs end to end on loopback (session cookie, JSON); raw = the same SQL on better-sqlite3, same process.`)
  out(`Host: ${cpus().length} CPU(s), load average at start ${loadavg().map((l) => l.toFixed(2)).join(" / ")}; client and server share one Node process.`)
  out()
  out(`| case | rows | HTTP p50 ms | HTTP p95 ms | raw p50 ms | raw p95 ms | n | p95 < ${TARGET_P95_MS} ms |`)
  out(`|---|---:|---:|---:|---:|---:|---:|:---:|`)
  const row = (label: string, r: { http: Timing; raw: Timing; iterations: number }) =>
    out(
      `| ${label} | ${r.http.count} | ${ms(r.http.p50)} | ${ms(r.http.p95)} | ${ms(r.raw.p50)} | ${ms(r.raw.p95)} | ${r.iterations} | ${r.http.p95 < TARGET_P95_MS ? "yes" : "**no**"} |`
    )
  progress("measuring the HTTP floor")
  const floor = yield* Effect.promise(() =>
    timeAsync(ITERATIONS, async () => (await Effect.runPromise(send(url, "GET", "/healthz"))).status)
  )
  const whoAmI = yield* Effect.promise(() =>
    timeAsync(ITERATIONS, async () => (await Effect.runPromise(client.get("/api/session"))).status)
  )
  out(`| HTTP floor: GET /healthz (no session, no SQL) | - | ${ms(floor.p50)} | ${ms(floor.p95)} | - | - | ${ITERATIONS} | - |`)
  out(`| HTTP floor: GET /api/session (session, no SQL) | - | ${ms(whoAmI.p50)} | ${ms(whoAmI.p95)} | - | - | ${ITERATIONS} | - |`)
  for (const c of cases) {
    progress(`measuring ${c.name}`)
    row(c.name, yield* measure(c, false))
  }

  progress("measuring the other dashboard reads")
  const others: ReadonlyArray<readonly [string, string]> = [
    ["GET /api/state-cards (COUNT by state)", "/api/state-cards"],
    ["GET /api/process-queue", "/api/process-queue"],
    ["GET /api/charts?range=7d", "/api/charts?range=7d"],
    ["GET /api/docs/:doc (drawer)", `/api/docs/${sample}`]
  ]
  out()
  out("Other dashboard reads at this size (not part of the target; informative):")
  out()
  out("| request | HTTP p50 ms | HTTP p95 ms | n |")
  out("|---|---:|---:|---:|")
  for (const [label, path] of others) {
    const n = Math.min(ITERATIONS, 20)
    const t = yield* Effect.promise(() =>
      timeAsync(n, async () => {
        const get = Effect.runPromise(client.get(path))
        const reply = await get.catch(() => Effect.runPromise(client.get(path)))
        if (reply.status !== 200) throw new Error(`${path}: ${reply.status} ${reply.text}`)
        return 1
      })
    )
    out(`| ${label} | ${ms(t.p50)} | ${ms(t.p95)} | ${n} |`)
  }

  progress("rebuilding migration 2's trigram search index (SEARCH_INDEX_SQL)")
  const indexStart = performance.now()
  for (const statement of SEARCH_INDEX_SQL) db.exec(statement)
  const indexSeconds = (performance.now() - indexStart) / 1000
  out()
  out(`With migration 2's search index (SEARCH_INDEX_SQL, built in ${indexSeconds.toFixed(1)} s); raw = the trigram query (LIKE for < 3 characters):`)
  out()
  out(`| case | rows | HTTP p50 ms | HTTP p95 ms | raw p50 ms | raw p95 ms | n | p95 < ${TARGET_P95_MS} ms |`)
  out(`|---|---:|---:|---:|---:|---:|---:|:---:|`)
  for (const c of cases.filter((x) => x.search !== undefined)) {
    progress(`measuring ${c.name} (indexed)`)
    row(c.name, yield* measure(c, true))
  }

  // ------------------------------------------------------------------------
  progress(`SSE fan-out: ${SSE_CLIENTS} clients, ${SSE_EVENTS} events`)
  const clients = yield* Effect.promise(() =>
    Promise.all(Array.from({ length: SSE_CLIENTS }, () => openSse(url, "/api/events", cookie.value)))
  )
  yield* Effect.promise(() => Promise.all(clients.map((c) => c.connected())))
  const events = yield* Effect.provide(EventBus, context)
  const fanStart = performance.now()
  for (let i = 0; i < SSE_EVENTS; i++) {
    const doc = `bench-${i}`
    yield* events.publish({ _tag: "dedup", doc })
    if (i % 50 === 49) yield* Effect.yieldNow()
  }
  const last = `bench-${SSE_EVENTS - 1}`
  yield* Effect.promise(() =>
    Promise.all(
      clients.map(async (c) => {
        await c.next((f) => f.data.includes(`"${last}"`), 60_000)
      })
    )
  )
  const fanSeconds = (performance.now() - fanStart) / 1000
  let lost = 0
  let outOfOrder = 0
  for (const c of clients) {
    const docs = c
      .frames()
      .map((f) => JSON.parse(f.data) as { _tag: string; doc?: string })
      .filter((e) => e._tag === "dedup" && e.doc?.startsWith("bench-") === true)
      .map((e) => e.doc ?? "")
    lost += SSE_EVENTS - new Set(docs).size
    docs.forEach((d, i) => {
      if (d !== `bench-${i}`) outOfOrder += 1
    })
    c.close()
  }
  out()
  out(`SSE fan-out on /api/events:`)
  out()
  out(`| clients | events each | delivered | lost | out of order | all delivered in |`)
  out(`|---:|---:|---:|---:|---:|---:|`)
  out(
    `| ${SSE_CLIENTS} | ${SSE_EVENTS} | ${SSE_CLIENTS * SSE_EVENTS - lost} | ${lost} | ${outOfOrder} | ${fanSeconds.toFixed(2)} s |`
  )
  db.close()
  process.stdout.write(`${lines.join("\n")}\n`)
})

Effect.runPromise(Effect.scoped(program).pipe(Logger.withMinimumLogLevel(LogLevel.Warning))).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
