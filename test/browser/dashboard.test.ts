/**
 * The dashboard in a real browser against a real allocator: the UI is built
 * with Vite (once, into a temp dir), served by the allocator's own HTTP layer
 * on a free loopback port (test/http/support.ts: in-memory Firestore,
 * simulated pipelines, real SQLite), and driven in Debian's Chromium through
 * playwright-core. The test plays the outside world (reports arriving,
 * pipelines' outcomes, a log being written) and checks what the operator sees
 * and what the allocator did.
 *
 * Screenshots go to test/artifacts/ (gitignored).
 */
import { appendFileSync, existsSync, mkdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { Effect, ManagedRuntime, Schema } from "effect"
import type { Browser, Locator, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { StateCards } from "../../schemas/api.ts"
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import { runLogFile } from "../../kernel/paths.ts"
import { SimHost } from "../../kernel/replay/simHost.ts"
import {
  arrive,
  type Client,
  exitAfter,
  firestoreStatus,
  hang,
  lastOf,
  type RunView,
  serverLayer,
  signIn,
  TestServer,
  USERS,
  waitRuns
} from "../http/support.ts"
import { builtUi, CHROMIUM, hasChromium, launchChromium, shot } from "./support.ts"

const suiteName = hasChromium
  ? "dashboard in Chromium"
  : `dashboard in Chromium (SKIPPED: ${CHROMIUM} is missing; install Debian's chromium package, e.g. make system-deps)`

/** Waits on a condition on this busy machine: a generous deadline, never a fixed sleep. */
const poll = <T,>(probe: () => Promise<T> | T, timeout = 30_000) => expect.poll(probe, { timeout, interval: 100 })

const makeRuntime = (staticDir: string) => ManagedRuntime.make(serverLayer({ staticDir }))
type Runtime = ReturnType<typeof makeRuntime>
type Services = ManagedRuntime.ManagedRuntime.Context<Runtime>

describe.skipIf(!hasChromium)(suiteName, () => {
  let outDir = ""
  let runtime: Runtime | undefined
  let browser: Browser | undefined
  let page: Page
  let base = ""
  let viewer: Client
  const dialogs: Array<string> = []

  const run = <A, E>(effect: Effect.Effect<A, E, Services>): Promise<A> => {
    if (runtime === undefined) throw new Error("no runtime")
    return runtime.runPromise(effect)
  }
  const runsOfDoc = (doc: string, done: (runs: ReadonlyArray<RunView>) => boolean) => run(waitRuns(viewer, doc, done))
  const marker = () => page.evaluate(() => Reflect.get(window, "__lomiMarker"))
  const drawer = (): Locator => page.getByTestId("drawer")
  const closeDrawer = async () => {
    await page.keyboard.press("Escape")
    await poll(() => drawer().count()).toBe(0)
  }
  const jobRow = (doc: string) => page.locator(`[data-testid=jobs-table] tbody tr[data-doc="${doc}"]`)

  beforeAll(async () => {
    outDir = await builtUi()
    expect(existsSync(join(outDir, "index.html"))).toBe(true)

    runtime = makeRuntime(outDir)
    base = (await run(TestServer)).base
    viewer = await run(signIn("viewer"))

    // The world before the operator looks: a Gen-Decoder order in its 24 h hold,
    // a finished Epi-Insight report, and an Omni-Health report whose first attempt
    // failed and is waiting for its retry.
    await run(
      Effect.all([
        arrive("gd-cool-1", "Gen-Decoder", "P-1001", [exitAfter(0, 400)], {
          patientName: "Ada Example",
          collectionDate: "2026-11-01"
        }),
        arrive("epi-done-1", "Epi-Insight", "P-2001", [exitAfter(0, 30)]),
        arrive("omni-retry-1", "Omni-Health", "P-3001", [exitAfter(1, 30)])
      ])
    )
    await runsOfDoc("gd-cool-1", (runs) => lastOf(runs)?.state === "waiting_cooldown")
    await runsOfDoc("epi-done-1", (runs) => lastOf(runs)?.state === "succeeded")
    await runsOfDoc("omni-retry-1", (runs) => runs.length === 2 && lastOf(runs)?.state === "waiting_cooldown")

    browser = await launchChromium()
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } })
    page = await context.newPage()
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message())
      void dialog.accept()
    })
    page.setDefaultTimeout(45_000)
  }, 240_000)

  afterAll(async () => {
    await browser?.close()
    await runtime?.dispose()
  }, 60_000)

  it("refuses a wrong password, then signs in", async () => {
    await page.goto(base)
    await page.locator("input[name=username]").fill(USERS.admin.name)
    await page.locator("input[name=password]").fill("not-the-password")
    await page.getByRole("button", { name: "Sign in" }).click()
    await poll(() => page.getByRole("alert").textContent()).toContain("Wrong user name or password.")

    await page.locator("input[name=password]").fill(USERS.admin.password)
    await page.getByRole("button", { name: "Sign in" }).click()
    await page.getByTestId("who").waitFor()
    expect(await page.getByTestId("who").textContent()).toContain("ada")
    await poll(() => page.getByTestId("live-status").textContent()).toContain("live")
    // The page was not reloaded by signing in; remember it, to prove later that nothing reloads it.
    await page.evaluate(() => Reflect.set(window, "__lomiMarker", 42))
  })

  it("shows the state cards with the allocator's real counts", async () => {
    const reply = await run(viewer.get("/api/state-cards"))
    const cards = Schema.decodeUnknownSync(StateCards)(reply.body)
    expect(cards.waiting.total).toBe(2)
    const count = (id: string) => page.getByTestId(`count-${id}`).textContent()
    await poll(() => count("waiting")).toBe(String(cards.waiting.total))
    expect(await count("succeeded")).toBe(String(cards.succeeded))
    expect(await count("retrying")).toBe(String(cards.retrying))
    expect(await count("running")).toBe(String(cards.running))
    expect(await page.getByTestId("card-waiting").textContent()).toContain("0 manual hold")

    // The Waiting card opens the rows it counts.
    await page.getByTestId("card-waiting").click()
    const modal = page.getByTestId("state-modal")
    await modal.locator('tr[data-doc="gd-cool-1"]').waitFor()
    await modal.locator('tr[data-doc="omni-retry-1"]').waitFor()
    await page.keyboard.press("Escape")
    await poll(() => modal.count()).toBe(0)

    // Idle, the page asks the server nothing: updates come only from the event stream.
    const requests: Array<string> = []
    const onRequest = (r: { url: () => string }) => requests.push(r.url())
    page.on("request", onRequest)
    await page.waitForTimeout(2500)
    page.off("request", onRequest)
    expect(requests).toEqual([])
    await shot(page, "dashboard", true)
  })

  it("searches for a document and opens its drawer", async () => {
    const search = page.getByTestId("job-search")
    await search.fill("gd-cool")
    await poll(() => page.locator("[data-testid=jobs-table] tbody tr").count()).toBe(1)
    await search.press("Escape")
    await poll(() => search.inputValue()).toBe("")
    await poll(() => page.locator("[data-testid=jobs-table] tbody tr").count()).toBeGreaterThan(1)

    // Enter searches at once, by patient id too.
    await search.fill("p-1001")
    await search.press("Enter")
    await poll(() => page.locator("[data-testid=jobs-table] tbody tr").count()).toBe(1)
    await jobRow("gd-cool-1").click()
    await drawer().waitFor()
    await poll(() => page.getByTestId("firestore-status").textContent()).toBe("Data Ready")
    expect(await page.getByTestId("drawer-state").textContent()).toContain("Waiting (cooldown)")
    expect(await page.getByTestId("firestore-doc").textContent()).toContain("Ada Example")
    expect(page.url()).toContain("#/doc/gd-cool-1")
    await shot(page, "drawer")
    await closeDrawer()
    await search.press("Escape")
  })

  it("skips a cooling Gen-Decoder row and sees it run and finish without a reload", async () => {
    const row = page.locator('[data-testid=queue-cooldown][data-doc="gd-cool-1"]')
    await row.waitFor()
    expect(await row.textContent()).toContain("Gen-Decoder hold")
    await row.getByTestId("skip").click()
    await expect
      .poll(() => page.getByTestId("notice").allTextContents())
      .toEqual(expect.arrayContaining([expect.stringMatching(/Skip #\d+done.*queued now/)]))
    // The row leaves the queue and the jobs table follows the run to its end, all from events.
    await poll(() => row.count()).toBe(0)
    await poll(() => jobRow("gd-cool-1").locator("[data-state]").getAttribute("data-state")).toBe("succeeded")
    await poll(() => page.getByTestId("count-succeeded").textContent()).toBe("2")
    await poll(() => page.getByTestId("count-waiting").textContent()).toBe("1")
    expect(await marker()).toBe(42)
    const runs = await runsOfDoc("gd-cool-1", (r) => lastOf(r)?.state === "succeeded")
    expect(runs.length).toBe(1)
    // The command log shows who did it.
    await poll(() => page.getByTestId("command-log").textContent()).toContain("skip")
  })

  it("shows the reason when the allocator refuses a command", async () => {
    await page.evaluate(() => {
      location.hash = "#/doc/epi-done-1"
    })
    await drawer().waitFor()
    await poll(() => page.getByTestId("drawer-state").textContent()).toContain("Succeeded")
    await page.getByTestId("action-retry").click()
    const result = page.getByTestId("drawer-result")
    await result.waitFor()
    expect(await result.textContent()).toContain('refused — epi-done-1 is "Data Ready" in Firestore, not Failed')
    expect(await result.getAttribute("class")).toContain("result-refused")
    await closeDrawer()
  })

  it("follows a running pipeline's log live and kills it", async () => {
    await run(arrive("epi-hang-1", "Epi-Insight", "P-5001", [hang]))
    const running = await runsOfDoc("epi-hang-1", (r) => lastOf(r)?.state === "running")
    const active = lastOf(running)
    if (active === undefined) throw new Error("no run")
    const config = (await run(TestServer)).config
    const file = runLogFile(config.dataDir, "epi-hang-1", active.id, active.attempt)
    mkdirSync(dirname(file), { recursive: true })
    appendFileSync(file, "step 1: reading inputs\n")

    // The address an email links to opens the drawer.
    await page.evaluate(() => {
      location.hash = "#/doc/epi-hang-1"
    })
    await drawer().waitFor()
    await page.getByTestId("log-live").waitFor()
    await poll(() => page.getByTestId("log-text").textContent()).toContain("step 1: reading inputs")
    appendFileSync(file, "step 2: computing the epigenetic clock\n")
    await poll(() => page.getByTestId("log-text").textContent()).toContain("step 2: computing the epigenetic clock")
    await shot(page, "drawer-live-log")

    await page.getByTestId("action-kill").click()
    expect(dialogs.at(-1)).toContain(`Kill run #${active.id}`)
    await poll(() => page.getByTestId("drawer-result").textContent()).toContain(`run ${active.id} killed`)
    await poll(() => page.getByTestId("drawer-state").textContent()).toContain("Failed")
    await poll(() => page.getByTestId("firestore-status").textContent()).toBe("Failed")
    expect((await run(firestoreStatus("epi-hang-1")))?.status).toBe("Failed")
    await closeDrawer()
    expect(await marker()).toBe(42)
  })

  it("adds orders by hand, then releases the holds in bulk with a failure summary", async () => {
    await run(
      Effect.gen(function* () {
        const fs = yield* MemoryFirestore
        yield* fs.setPatient("P-6001", { name: "Manual One" })
        yield* fs.setPatient("P-6002", { name: "Manual Two" })
        yield* fs.setReport("manual-1", { status: "Awaiting lab", service: "Epi-Insight", patientId: "P-6001" })
        yield* fs.setReport("manual-2", { status: "Awaiting lab", service: "Epi-Insight", patientId: "P-6002" })
      })
    )
    await page.getByRole("button", { name: "+ Manual Add" }).click()
    const modal = page.getByTestId("manual-add")
    const input = modal.getByLabel("Report id")
    for (const doc of ["manual-1", "manual-2", "gd-cool-1"]) {
      await input.fill(doc)
      await modal.getByRole("button", { name: "Validate" }).click()
      await poll(() => modal.getByTestId("verdicts").textContent()).toContain(doc)
    }
    // gd-cool-1 is already Data Ready: refused, and not pending.
    expect(await modal.getByTestId("verdicts").textContent()).toContain("already Data Ready")
    const pending = modal.getByTestId("pending")
    await poll(() => pending.locator("tbody tr").count()).toBe(2)
    await shot(page, "manual-add")
    await modal.getByRole("button", { name: /^Submit/ }).click()
    await poll(() => modal.locator(".bulk-summary").textContent()).toContain("2 of 2 done")
    await page.keyboard.press("Escape")

    const holds = page.getByTestId("queue-hold")
    await poll(() => holds.count()).toBe(2)
    expect(await holds.first().locator(".hold-id").textContent()).toMatch(/^H\d+$/)
    await poll(() => page.getByTestId("card-waiting").textContent()).toContain("2 manual hold")

    // Someone sets manual-2 to Data Ready behind the allocator's back: its release must be refused.
    await run(
      Effect.gen(function* () {
        const sim = yield* SimHost
        yield* sim.append("manual-1", [exitAfter(0, 30)])
        yield* sim.append("manual-2", [exitAfter(0, 30)])
        const fs = yield* MemoryFirestore
        yield* fs.patchReport("manual-2", { status: "Data Ready" })
      })
    )
    await page.getByLabel("Select every hold").check()
    await page.getByTestId("hold-toolbar").getByRole("button", { name: "Release all" }).click()
    const summary = page.getByTestId("bulk-summary")
    await summary.waitFor()
    expect(await summary.textContent()).toContain("1 of 2 done")
    expect(await summary.textContent()).toContain("manual-2")
    expect(await summary.textContent()).toContain("already Data Ready; hold kept")
    // The released one leaves the queue; the refused one stays, still selected.
    await poll(() => holds.count()).toBe(1)
    expect(await holds.first().getAttribute("data-doc")).toBe("manual-2")
    expect(await holds.first().locator("input[type=checkbox]").isChecked()).toBe(true)
    await runsOfDoc("manual-1", (r) => lastOf(r)?.state === "succeeded")
    await shot(page, "dashboard-after-holds", true)
  })

  it("shows the help pages and the admin's config", async () => {
    await page.getByRole("button", { name: "Config" }).click()
    const config = page.getByTestId("config")
    await config.getByLabel("KILL_GRACE_MS").fill("900")
    await config.getByLabel("MAX_WORKERS").fill("2")
    await config.getByRole("button", { name: "Save" }).click()
    await poll(() => config.getByTestId("config-result").textContent()).toContain("2 saved")
    expect(await config.getByTestId("config-result").textContent()).toContain("Restart needed for MAX_WORKERS")
    await page.keyboard.press("Escape")

    await page.getByRole("link", { name: "Help", exact: true }).click()
    await page.getByTestId("help").waitFor()
    await page.getByRole("button", { name: "Process Queue" }).click()
    expect(await page.getByTestId("help").textContent()).toContain("Release")
    await shot(page, "help")
    expect(await marker()).toBe(42)
  })

  it("gives a viewer the same live view without the buttons they may not use", async () => {
    await page.getByRole("link", { name: "Back to the dashboard" }).click()
    await page.getByRole("button", { name: "Sign out" }).click()
    await page.locator("input[name=username]").waitFor()
    expect(await page.getByRole("alert").textContent()).toContain("Signed out.")

    await page.locator("input[name=username]").fill(USERS.viewer.name)
    await page.locator("input[name=password]").fill(USERS.viewer.password)
    await page.getByRole("button", { name: "Sign in" }).click()
    await page.getByTestId("who").waitFor()
    expect(await page.getByRole("button", { name: "+ Manual Add" }).count()).toBe(0)
    expect(await page.getByRole("button", { name: "Config" }).count()).toBe(0)
    const row = page.locator('[data-testid=queue-cooldown][data-doc="omni-retry-1"]')
    await row.waitFor()
    expect(await row.getByTestId("skip").isDisabled()).toBe(true)
    // It says why, to the mouse (tooltip) and to a screen reader (its description).
    expect(await row.getByTestId("skip").getAttribute("title")).toBe("Needs the operator role; you are signed in as viewer.")
    expect(await row.getByTestId("skip-reason").textContent()).toBe("Needs the operator role; you are signed in as viewer.")
  })
})
