/**
 * Start-up under tsx on a loaded two-core machine can take minutes: the
 * deadlines are generous and every wait is on a condition.
 *
 * The dashboard server as its own process against a real kernel, both
 * started from their entry points the way the launcher starts them (with the
 * execution host beside them), on the embedded demo: the dashboard reads
 * SQLite itself, a command crosses the control socket to the kernel and is
 * audited there, events arrive over SSE, and while the kernel is stopped the
 * dashboard keeps answering reads and refuses commands with 503.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { hashPassword } from "../../kernel/http/passwords.ts"
import { type Client, clientFor, cookieFrom, openSse, send } from "../http/support.ts"

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const DEMO = join(ROOT, "fixtures/demo")
const TSX = join(ROOT, "node_modules/.bin/tsx")
const ADMIN = { name: "ada", password: "admin-password-1" }

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** Polls `probe` until it returns a value; fails with the last observation after `ms`. */
const eventually = async <A>(probe: () => Promise<A | undefined>, ms: number, what: string): Promise<A> => {
  const deadline = Date.now() + ms
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const found = await probe()
      if (found !== undefined) return found
    } catch (e) {
      last = e
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`${what} not seen within ${ms} ms (last: ${String(last)})`)
}

const run = <A>(effect: Effect.Effect<A>) => Effect.runPromise(effect)

interface Proc {
  readonly child: ChildProcess
  readonly output: () => string
}

const start = (entry: string, configFile: string, env: Record<string, string> = {}): Proc => {
  let output = ""
  const child = spawn(TSX, [join(ROOT, entry), configFile], {
    cwd: ROOT,
    env: { ...process.env, LOMI_SANDBOX_ENABLED: "0", LOMI_EXECHOST_EXTERNAL: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()))
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()))
  return { child, output: () => output }
}

const stop = (proc: Proc | undefined) =>
  new Promise<void>((resolve) => {
    if (proc === undefined || proc.child.exitCode !== null || proc.child.signalCode !== null) return resolve()
    proc.child.once("exit", () => resolve())
    proc.child.kill("SIGTERM")
  })

describe("the dashboard server process against a real kernel", () => {
  let dir = ""
  let configFile = ""
  let base = ""
  let host: Proc | undefined
  let kernel: Proc | undefined
  let dashboard: Proc | undefined
  let admin: Client

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "lomi-dash-"))
    const raw = JSON.parse(readFileSync(join(DEMO, "config.json"), "utf8")) as Record<string, Record<string, unknown>>
    const services = Object.fromEntries(
      Object.entries(raw.services ?? {}).map(([k, v]) => [k, { ...(v as object), script: join(DEMO, String((v as { script: string }).script)) }])
    )
    // Epi-Insight runs take 15 s here: long enough to see one being followed on a loaded machine.
    const epi = services["Epi-Insight"]
    if (epi !== undefined) services["Epi-Insight"] = Object.assign(epi, { env: { LOMI_DEMO_SECONDS: "15" } })
    const port = await freePort()
    base = `http://127.0.0.1:${port}`
    const passwordHash = await run(hashPassword(ADMIN.password))
    configFile = join(dir, "config.json")
    writeFileSync(
      configFile,
      JSON.stringify({
        ...raw,
        dataDir: join(dir, "data"),
        services,
        paths: { patientBaseDir: join(dir, "base"), userDataDir: join(dir, "user"), pipelinesRoot: join(ROOT, "fixtures/pipelines") },
        sandbox: { scratchRoot: join(dir, "scratch") },
        mail: { ...raw.mail, port: await freePort() },
        http: { host: "127.0.0.1", port, users: [{ name: ADMIN.name, role: "admin", passwordHash }] }
      })
    )
    // Started first on purpose: the dashboard waits for the kernel's database and socket.
    dashboard = start("kernel/dashboard/main.ts", configFile)
    host = start("kernel/exechost/main.ts", configFile)
    kernel = start("kernel/main.ts", configFile)
    await eventually(
      async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined),
      600_000,
      "/readyz 200 from the dashboard"
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n--- kernel\n${kernel?.output()}\n--- dashboard\n${dashboard?.output()}`)
    })
    const reply = await run(send(base, "POST", "/api/session", { body: ADMIN }))
    expect(reply.status).toBe(200)
    const cookie = cookieFrom(reply)
    if (cookie._tag === "None") throw new Error("no session cookie")
    admin = clientFor(base, ADMIN.name, cookie.value, (reply.body as { csrfToken: string }).csrfToken)
  }, 660_000)

  afterAll(async () => {
    await stop(dashboard)
    await stop(kernel)
    await stop(host)
    if (dir !== "") rmSync(dir, { recursive: true, force: true })
  }, 60_000)

  it("reads come from the database the kernel writes: the demo's reports become job rows", async () => {
    const items = await eventually(
      async () => {
        const reply = await run(admin.get("/api/jobs?limit=100"))
        const list = (reply.body as { items: ReadonlyArray<{ doc_id: string }> }).items
        return reply.status === 200 && list.some((r) => r.doc_id.startsWith("demo-")) ? list : undefined
      },
      60_000,
      "a demo row in /api/jobs"
    )
    expect(items.length).toBeGreaterThan(0)
  }, 90_000)

  it("a command reaches the kernel, is audited there, and its event arrives over SSE", async () => {
    const sse = await openSse(base, "/api/events", admin.cookie)
    try {
      expect(sse.status).toBe(200)
      await sse.connected()
      const reply = await run(admin.put("/api/tunables", { values: { MAX_RETRIES: 5 } }))
      expect(reply.status).toBe(200)
      expect((reply.body as { ok: boolean }).ok).toBe(true)

      const frame = await sse.next((f) => f.data.includes('"_tag":"command"') && f.data.includes("set_tunable"), 20_000)
      expect(JSON.parse(frame.data)).toMatchObject({ _tag: "command", name: "set_tunable", ok: true })

      const log = await run(admin.get("/api/commands?limit=5"))
      const newest = (log.body as { items: ReadonlyArray<Record<string, unknown>> }).items[0]
      expect(newest).toMatchObject({ user: "ada", name: "set_tunable", status: "ok", args: { key: "MAX_RETRIES", value: 5 } })

      // The kernel's new value reaches the dashboard's read of the tunables.
      await eventually(
        async () => {
          const t = await run(admin.get("/api/tunables"))
          const row = (t.body as { items: ReadonlyArray<{ key: string; current: number }> }).items.find((i) => i.key === "MAX_RETRIES")
          return row?.current === 5 ? true : undefined
        },
        20_000,
        "MAX_RETRIES 5 in /api/tunables"
      )
    } finally {
      sse.close()
    }
  }, 60_000)

  it("/metrics has process gauges for the dashboard, the kernel and the execution host", async () => {
    const text = await eventually(
      async () => {
        const body = await (await fetch(`${base}/metrics`)).text()
        return body.includes('lomi_process_resident_memory_bytes{process="kernel"}') &&
          body.includes('lomi_process_resident_memory_bytes{process="exechost"}')
          ? body
          : undefined
      },
      20_000,
      "the kernel's and the execution host's gauges"
    )
    expect(text).toMatch(/^lomi_process_resident_memory_bytes\{process="exechost"\} \d+$/m)
    expect(text).toMatch(/^lomi_process_event_loop_utilization\{process="exechost"\} [\d.e-]+$/m)
    expect(text).toMatch(/^lomi_process_resident_memory_bytes\{process="dashboard"\} \d+$/m)
    expect(text).toMatch(/^lomi_process_event_loop_utilization\{process="kernel"\} [\d.e-]+$/m)
    expect(text).toMatch(/^lomi_process_event_loop_delay_p99_seconds\{process="dashboard"\} [\d.e-]+$/m)
  }, 40_000)

  it("a running pipeline is listed by /api/live-runs (kernel → execution host over two sockets) with its live pid", async () => {
    const doc = "dash-followed"
    const editor = spawn(
      TSX,
      [join(ROOT, "kernel/firestore/demo-doc.ts"), "--data-dir", join(dir, "data"), "set", doc, JSON.stringify({ status: "Data Ready", service: "Epi-Insight", patientId: "P-1001" })],
      { cwd: ROOT, stdio: "ignore" }
    )
    expect(await new Promise<number | null>((resolve) => editor.once("exit", resolve))).toBe(0)
    const row = await eventually(
      async () => {
        const reply = await run(admin.get(`/api/jobs?q=${doc}&state=running`))
        return (reply.body as { items: ReadonlyArray<{ id: number; doc_id: string }> }).items.find((r) => r.doc_id === doc)
      },
      120_000,
      `a running row of ${doc}`
    )
    const listed = await eventually(
      async () => {
        const reply = await run(admin.get("/api/live-runs"))
        const report = reply.body as { executor: string; available: boolean; runs: ReadonlyArray<{ runId: number; docId: string; pid?: number }> }
        return report.available ? { report, run: report.runs.find((r) => r.runId === row.id) } : undefined
      },
      20_000,
      "an answer from the execution host"
    )
    expect(listed.report.executor).toBe("host")
    expect(listed.run).toMatchObject({ runId: row.id, docId: doc })
    const pid = listed.run?.pid ?? 0
    expect(pid).toBeGreaterThan(1)
    // A real process (the pipeline's group leader, or its monitor), alive while the row runs.
    expect(() => process.kill(pid, 0)).not.toThrow()
  }, 180_000)

  it("with the kernel stopped, reads keep working and commands answer 503 'allocator not reachable'; it reconnects when the kernel is back", async () => {
    const before = await run(admin.get("/api/jobs?limit=100"))
    expect(before.status).toBe(200)
    await stop(kernel)

    const refused = await run(admin.put("/api/tunables", { values: { MAX_RETRIES: 6 } }))
    expect(refused.status).toBe(503)
    expect((refused.body as { message: string }).message).toMatch(/^allocator not reachable/)

    const during = await run(admin.get("/api/jobs?limit=100"))
    expect(during.status).toBe(200)
    expect((during.body as { items: ReadonlyArray<unknown> }).items.length).toBe(
      (before.body as { items: ReadonlyArray<unknown> }).items.length
    )
    expect((await fetch(`${base}/readyz`)).status).toBe(503)
    // Which runs are followed is not known without the kernel: an answer saying so, not an error page.
    const live = await eventually(
      async () => {
        const reply = await run(admin.get("/api/live-runs"))
        return reply.status === 200 && (reply.body as { available: boolean }).available === false ? reply.body : undefined
      },
      10_000,
      "live runs unavailable"
    )
    expect(live).toMatchObject({ executor: "host", available: false, runs: [] })
    expect((live as { message: string }).message).toMatch(/^allocator not reachable/)
    // The refused command never reached the audit log.
    const log = await run(admin.get("/api/commands?limit=5"))
    const values = (log.body as { items: ReadonlyArray<{ args: { value?: number } }> }).items.map((i) => i.args.value)
    expect(values).not.toContain(6)

    kernel = start("kernel/main.ts", configFile)
    await eventually(
      async () => {
        const reply = await run(admin.put("/api/tunables", { values: { MAX_RETRIES: 6 } }))
        return reply.status === 200 ? reply : undefined
      },
      600_000,
      "a command accepted after the kernel restarted"
    )
  }, 660_000)
})
