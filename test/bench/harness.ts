/**
 * What the benches that drive real allocator processes share: waiting on a
 * condition, a free loopback port, order statistics, the machine's name, and
 * the probe each measured process carries (test/bench/probe.mjs).
 */
import { existsSync } from "node:fs"
import { connect, createServer } from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export const sleep = (msDelay: number) => new Promise((resolve) => setTimeout(resolve, msDelay))

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** Polls `probe` until it gives a value; throws naming `what` after `deadlineMs`. */
export const waitFor = async <A>(
  what: string,
  deadlineMs: number,
  probe: () => A | undefined | Promise<A | undefined>,
  everyMs = 25
) => {
  const until = performance.now() + deadlineMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`)
    await sleep(everyMs)
  }
}

/** Nearest-rank percentile (p in 0..100); NaN for no samples. */
export const percentile = (xs: ReadonlyArray<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : (s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN)
}

export const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] ?? Number.NaN)
}

/** The machine a figure was measured on, with its load at that moment. */
export const machine = () => {
  const cpus = os.cpus()
  const load = os.loadavg().map((l) => l.toFixed(2)).join(" ")
  return `${os.availableParallelism()} cores (${cpus[0]?.model ?? "unknown cpu"}), Linux ${os.release()}, load average ${load}`
}

/** What test/bench/probe.mjs answers about the process it is preloaded into. */
export interface ProbeStats {
  readonly pid: number
  /** ms since the process started (performance.now()). */
  readonly uptimeMs: number
  readonly cpuMs: number
  readonly rss: number
  readonly heapUsed: number
  readonly peakRssWindow: number
  readonly eldP99Ms: number
  readonly eldMaxMs: number
  readonly elu: number
}

/** Asks a process's probe (a socket per process, one JSON line per connection); undefined when it does not answer. */
export const readProbe = (dir: string, role: string): Promise<ProbeStats | undefined> =>
  new Promise((resolve) => {
    const socketPath = path.join(dir, `${role}.sock`)
    if (!existsSync(socketPath)) return resolve(undefined)
    let text = ""
    const socket = connect(socketPath)
    socket.setEncoding("utf8")
    socket.setTimeout(5000, () => socket.destroy())
    socket.on("data", (d: string) => (text += d))
    socket.on("error", () => resolve(undefined))
    socket.on("close", () => {
      try {
        resolve(JSON.parse(text) as ProbeStats)
      } catch {
        resolve(undefined)
      }
    })
  })

/**
 * A static config for a bench allocator: every service runs `script`, live
 * Firestore (the bench's emulator) under `projectId`, the dashboard on
 * `httpPort`, mail to a port nothing listens on (benches send none).
 */
export const benchConfig = async (options: {
  readonly repo: string
  readonly dataDir: string
  readonly projectId: string
  readonly httpPort: number
  readonly script: string
  readonly users?: ReadonlyArray<{ readonly name: string; readonly role: string; readonly passwordHash: string }>
}) => {
  const { repo, dataDir, projectId, httpPort } = options
  const service = { script: options.script, env: {} }
  return {
    dataDir,
    timezone: "UTC",
    firestore: { mode: "live", projectId },
    services: { "Gen-Decoder": service, "Epi-Insight": service, "Omni-Health": service },
    paths: { patientBaseDir: path.join(dataDir, "patient-base"), userDataDir: path.join(dataDir, "user-data"), pipelinesRoot: repo },
    sandbox: { scratchRoot: path.join(dataDir, "scratch") },
    mail: {
      host: "127.0.0.1",
      port: await freePort(),
      ignoreTLS: true,
      from: "bench@bench.invalid",
      dashboardUrl: `http://127.0.0.1:${httpPort}`,
      recipients: { upload_reminder: ["x@bench.invalid"], permanent_failure: ["x@bench.invalid"], manual_add: ["x@bench.invalid"] }
    },
    http: { host: "127.0.0.1", port: httpPort, ...(options.users === undefined ? {} : { users: options.users }) }
  }
}
