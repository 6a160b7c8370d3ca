/**
 * "Restart now" as an operator meets it under `make run`: the compiled
 * launcher (dist/kernel/launch.js) runs the kernel, the execution host and the
 * dashboard server on the embedded Firestore emulator; the admin saves a
 * restart-only value, sees it pending, clicks Restart now, and the kernel
 * stops in order, exits 75 and is started again by the launcher, while the
 * open page reconnects by itself, stays signed in, and shows nothing pending.
 *
 * Builds what `make run` builds (`make build`), so it is the slowest browser
 * test; it is skipped without Chromium.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import type { Browser, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { hashPassword } from "../../kernel/http/passwords.ts"
import { CHROMIUM, hasChromium, launchChromium, repoRoot, shot } from "./support.ts"

const ADMIN = { name: "root-admin", password: "restart-test-password-1" }

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

const waitFor = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

const poll = <T,>(probe: () => Promise<T> | T, timeout = 60_000) => expect.poll(probe, { timeout, interval: 200 })

describe.skipIf(!hasChromium)(
  hasChromium ? "Restart now under the make-run launcher" : `Restart now (SKIPPED: ${CHROMIUM} is missing)`,
  { timeout: 300_000 },
  () => {
    let launcher: ChildProcess | undefined
    let browser: Browser | undefined
    let page: Page
    let base = ""
    let logFile = ""
    const launcherLog = () => readFileSync(logFile, "utf8")

    beforeAll(async () => {
      // Asynchronously: a synchronous build would block this worker's event loop for minutes.
      const built = await new Promise<number | null>((resolve) => {
        const make = spawn("make", ["-s", "build"], { cwd: repoRoot, stdio: "ignore" })
        make.once("exit", (code) => resolve(code))
      })
      expect(built, "make build").toBe(0)
      const dir = mkdtempSync(join(tmpdir(), "lomi-restart-"))
      const port = await freePort()
      const demo = join(repoRoot, "fixtures/demo")
      const passwordHash = await Effect.runPromise(hashPassword(ADMIN.password))
      mkdirSync(join(dir, "data"), { recursive: true })
      const config = {
        dataDir: join(dir, "data"),
        timezone: "UTC",
        firestore: { mode: "embedded", projectId: "lomi-restart-test" },
        services: {
          "Gen-Decoder": { script: join(demo, "pipelines/run_gen_decoder.sh"), env: { LOMI_DEMO_SECONDS: "1" } },
          "Epi-Insight": { script: join(demo, "pipelines/run_epi_insight.sh"), env: { LOMI_DEMO_SECONDS: "1" } },
          "Omni-Health": { script: join(demo, "pipelines/run_omni_health.sh"), env: { LOMI_DEMO_SECONDS: "1" } }
        },
        paths: {
          patientBaseDir: join(dir, "data/patient-base"),
          userDataDir: join(dir, "data/user-data"),
          pipelinesRoot: join(demo, "pipelines")
        },
        sandbox: { scratchRoot: join(dir, "data/scratch") },
        mail: {
          host: "127.0.0.1",
          port: await freePort(),
          ignoreTLS: true,
          from: "lomi-allocator@test.invalid",
          dashboardUrl: `http://127.0.0.1:${port}`,
          recipients: { upload_reminder: [], permanent_failure: [], manual_add: [] }
        },
        http: { host: "127.0.0.1", port, users: [{ name: ADMIN.name, role: "admin", passwordHash }] }
      }
      const configFile = join(dir, "config.json")
      writeFileSync(configFile, JSON.stringify(config, null, 2))
      logFile = join(dir, "launcher.log")
      const out = openSync(logFile, "a")
      launcher = spawn(process.execPath, [join(repoRoot, "dist/kernel/launch.js"), configFile], {
        cwd: repoRoot,
        stdio: ["ignore", out, out],
        env: { ...process.env, LOMI_SANDBOX_ENABLED: "0" }
      })
      base = `http://127.0.0.1:${port}`
      await waitFor("/readyz", async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200, 180_000)

      browser = await launchChromium()
      page = await (await browser.newContext({ viewport: { width: 1440, height: 1000 } })).newPage()
      page.setDefaultTimeout(60_000)
      page.on("dialog", (dialog) => void dialog.accept())
      await page.goto(base, { timeout: 120_000 })
      await page.locator("input[name=username]").fill(ADMIN.name)
      await page.locator("input[name=password]").fill(ADMIN.password)
      await page.getByRole("button", { name: "Sign in" }).click()
      await page.locator("[data-testid=live-status].live-live").waitFor()
      await page.evaluate(() => Reflect.set(window, "__lomiMarker", 75))
    }, 1_200_000)

    afterAll(async () => {
      await browser?.close()
      if (launcher !== undefined && launcher.exitCode === null) {
        launcher.kill("SIGTERM")
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            launcher?.kill("SIGKILL")
            resolve()
          }, 30_000)
          launcher?.once("exit", () => {
            clearTimeout(timer)
            resolve()
          })
        })
      }
    }, 60_000)

    it("shows the pending value, restarts the kernel in place, and the page reconnects by itself", async () => {
      await page.getByRole("button", { name: "Config" }).click()
      const config = page.getByTestId("config")
      await config.getByLabel("MAX_WORKERS").fill("2")
      await config.getByRole("button", { name: "Save" }).click()
      const pending = config.getByTestId("restart-pending")
      await poll(() => pending.textContent()).toBe("MAX_WORKERS: running 1, stored 2")
      await shot(page, "config-restart-pending")
      const before = (await (await page.request.get(`${base}/api/restart`)).json()) as { startedAt: string }

      await config.getByTestId("restart-now").click()
      // The kernel stops in order, leaves with 75, and the launcher starts it again.
      await waitFor("the launcher to restart the kernel", () => launcherLog().includes("kernel asked for a restart; starting it again"), 120_000)
      await poll(() => config.getByTestId("restart-done").count(), 180_000).toBe(1)
      const after = (await (await page.request.get(`${base}/api/restart`)).json()) as {
        startedAt: string
        pending: ReadonlyArray<unknown>
        restarting: boolean
      }
      expect(after.startedAt > before.startedAt).toBe(true)
      expect(after.pending).toEqual([])
      expect(after.restarting).toBe(false)
      // Nothing is pending any more, and the page was neither reloaded nor signed out.
      await poll(() => config.getByTestId("restart-pending").count()).toBe(0)
      expect(await page.evaluate(() => Reflect.get(window, "__lomiMarker"))).toBe(75)
      expect(await page.getByTestId("who").textContent()).toContain(ADMIN.name)
      await poll(() => page.getByTestId("live-status").textContent()).toContain("live")
      await shot(page, "config-restarted")
      expect(launcher?.exitCode).toBe(null)
    })
  }
)
