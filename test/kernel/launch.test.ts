/**
 * The `make run` launcher (kernel/launch.ts) with stand-in processes: it
 * starts the execution host and the kernel it finds, starts the kernel again
 * when it exits 75 ("restart requested"), and on SIGINT stops the kernel
 * first and the host after it, then exits 0.
 *
 * The launcher finds the bundles beside its own source (`../dist/kernel/`),
 * so a copy of it runs in a temporary tree whose dist/ holds the stand-ins.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterEach, describe, expect, it } from "vitest"

const repo = resolve(import.meta.dirname, "../..")

/** Appends one line per life event to events.log; kernel: exits 75 on its first start, after the launcher's 2 s floor. */
const standIn = (role: string) => `
import { appendFileSync, existsSync, writeFileSync } from "node:fs"
const log = (line) => appendFileSync(${JSON.stringify("EVENTS")}, line + "\\n")
log("${role} started " + process.argv.slice(2).join(" "))
const stop = (signal) => { log("${role} stopped by " + signal); process.exit(0) }
process.on("SIGINT", () => stop("SIGINT"))
process.on("SIGTERM", () => stop("SIGTERM"))
setInterval(() => {}, 1000)
if (${JSON.stringify(role)} === "kernel" && !existsSync(${JSON.stringify("MARK")})) {
  writeFileSync(${JSON.stringify("MARK")}, "restarted once")
  setTimeout(() => { log("kernel exits 75"); process.exit(75) }, 2500)
}
`

const waitFor = async (what: string, check: () => boolean, deadlineMs = 60_000) => {
  const until = Date.now() + deadlineMs
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe("make run launcher", () => {
  let dir = ""
  let launcher: ChildProcess | undefined
  afterEach(() => {
    if (launcher !== undefined && launcher.exitCode === null) launcher.kill("SIGKILL")
    rmSync(dir, { recursive: true, force: true })
  })

  it("restarts the kernel on exit 75, and on SIGINT stops the kernel, then the host, and exits 0", async () => {
    dir = mkdtempSync(join(tmpdir(), "lomi-launch-"))
    const events = join(dir, "events.log")
    mkdirSync(join(dir, "kernel"))
    mkdirSync(join(dir, "dist/kernel/exechost"), { recursive: true })
    copyFileSync(join(repo, "kernel/launch.ts"), join(dir, "kernel/launch.ts"))
    const fill = (role: string) =>
      standIn(role).replaceAll('"EVENTS"', JSON.stringify(events)).replaceAll('"MARK"', JSON.stringify(join(dir, "mark")))
    writeFileSync(join(dir, "dist/kernel/main.js"), fill("kernel"))
    writeFileSync(join(dir, "dist/kernel/exechost/main.js"), fill("host"))
    const lines = () => (existsSync(events) ? readFileSync(events, "utf8").trim().split("\n") : [])

    launcher = spawn(process.execPath, ["--import", "tsx", join(dir, "kernel/launch.ts"), "/etc/lomi/allocator.json"], {
      cwd: repo,
      stdio: "ignore"
    })
    const exited = new Promise<number | null>((r) => launcher?.once("exit", (code) => r(code)))
    await waitFor("the kernel's second start", () => lines().filter((l) => l.startsWith("kernel started")).length === 2)
    launcher.kill("SIGINT")
    expect(await exited).toBe(0)
    // Host and kernel start together (the kernel's client waits for the host), so their first lines may swap.
    expect([...lines().slice(0, 2)].sort()).toEqual(["host started /etc/lomi/allocator.json", "kernel started /etc/lomi/allocator.json"])
    expect(lines().slice(2)).toEqual([
      "kernel exits 75",
      "kernel started /etc/lomi/allocator.json",
      "kernel stopped by SIGINT",
      "host stopped by SIGTERM"
    ])
  }, 120_000)
})
