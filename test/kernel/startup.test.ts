/**
 * Start-up refusals of the real entry point: one line on stderr naming the
 * problem, exit code 2, and nothing touched.
 */
import { describe, expect, it } from "vitest"
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../", import.meta.url))
const demoDir = join(root, "fixtures/demo")

/** Runs the entry point to its exit. Not spawnSync: a minute-long block of the test worker on a busy machine timed out vitest's own RPC. */
const start = (config: Record<string, unknown>, env: Record<string, string> = {}) => {
  const dir = mkdtempSync(join(tmpdir(), "lomi-start-"))
  const file = join(dir, "config.json")
  writeFileSync(file, JSON.stringify(config))
  return new Promise<{ status: number | null; stderr: string; dir: string }>((resolve) => {
    const child = spawn(join(root, "node_modules/.bin/tsx"), [join(root, "kernel/main.ts"), file], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 60_000
    })
    let stderr = ""
    child.stderr.setEncoding("utf8")
    child.stderr.on("data", (chunk: string) => (stderr += chunk))
    child.on("close", (status) => resolve({ status, stderr, dir }))
  })
}

/** Processes whose command line names `dir` (a host the kernel started for that data dir, say). */
const processesNaming = (dir: string) =>
  readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir)
      } catch {
        return false
      }
    })

/** The demo configuration with absolute paths, its data in `dir`, on ports nobody else uses. */
const demoConfig = (dir: string): Record<string, unknown> => {
  const raw = JSON.parse(readFileSync(join(demoDir, "config.json"), "utf8")) as Record<string, Record<string, unknown>>
  const services = Object.fromEntries(
    Object.entries(raw.services ?? {}).map(([k, v]) => [k, { ...(v as object), script: join(demoDir, String((v as { script: string }).script)) }])
  )
  return {
    ...raw,
    dataDir: dir,
    services,
    paths: { patientBaseDir: join(dir, "base"), userDataDir: join(dir, "user"), pipelinesRoot: join(root, "fixtures/pipelines") },
    sandbox: { scratchRoot: join(dir, "scratch") },
    mail: { ...raw.mail, port: 20000 + Math.floor(Math.random() * 20000) },
    http: { host: "127.0.0.1", port: 0 }
  }
}

const stderrLines = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("lomi-allocator:"))

describe("start-up refusals", { timeout: 150_000 }, () => {
  it("a wrong type in the config file", async () => {
    const result = await start({ dataDir: 3 })
    expect(result.status).toBe(2)
    expect(stderrLines(result.stderr)).toEqual(["lomi-allocator: config dataDir: Expected string, actual 3"])
  })

  it("an invalid timezone (the cleanup actor would crash-loop on it)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lomi-start-data-"))
    const result = await start({ ...demoConfig(dir), timezone: "Mars/Olympus" })
    expect(result.status).toBe(2)
    expect(stderrLines(result.stderr)).toEqual([
      'lomi-allocator: config timezone: "Mars/Olympus" is not an IANA time zone (e.g. "UTC", "Asia/Tokyo")'
    ])
  })

  it("a user with a malformed passwordHash", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lomi-start-data-"))
    const config = demoConfig(dir)
    const result = await start({ ...config, http: { host: "127.0.0.1", port: 0, users: [{ name: "ann", role: "admin", passwordHash: "x" }] } })
    expect(result.status).toBe(2)
    expect(stderrLines(result.stderr)).toEqual([
      'lomi-allocator: config http.users.0.passwordHash: not an scrypt:<salt-hex>:<hash-hex> hash (see README, "Users")'
    ])
  })

  it("a bad LOMI_SANDBOX_ENABLED", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lomi-start-data-"))
    const result = await start(demoConfig(dir), { LOMI_SANDBOX_ENABLED: "yes" })
    expect(result.status).toBe(2)
    expect(stderrLines(result.stderr)).toEqual(['lomi-allocator: LOMI_SANDBOX_ENABLED must be 0 or 1, got "yes"'])
  })

  it("a corrupt database is refused and left as it was", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lomi-start-data-"))
    const garbage = "not a database ".repeat(500)
    writeFileSync(join(dir, "allocator.db"), garbage)
    const result = await start(demoConfig(dir))
    expect(result.status).toBe(2)
    expect(stderrLines(result.stderr)[0]).toMatch(/^lomi-allocator: cannot open database .*allocator\.db/)
    expect(readFileSync(join(dir, "allocator.db"), "utf8")).toBe(garbage)
  })

  it("the sandbox on with bwrap missing says how to fix it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lomi-start-data-"))
    const config = demoConfig(dir)
    const result = await start({ ...config, sandbox: { scratchRoot: join(dir, "scratch"), bwrapPath: "/nonexistent/bwrap" } })
    expect(result.status).toBe(2)
    const [line] = stderrLines(result.stderr)
    expect(line).toContain("bubblewrap was not found")
    expect(line).toContain("apt-get install bubblewrap")
    expect(existsSync(join(dir, "scratch"))).toBe(false)
    // Refused before the executor's client could start an execution host for this data dir.
    expect(processesNaming(dir)).toEqual([])
  })
})
