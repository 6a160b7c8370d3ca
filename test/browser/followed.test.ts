/**
 * "Which pipelines is the execution host following?" in Chromium, against a
 * real allocator (test/http/support.ts: simulated host, real SQLite, the real
 * HTTP layer serving the built UI):
 * - a running job's drawer and its row in the Jobs table say it is followed;
 * - a row the database calls running that the executor does not list (the
 *   state a failed outcome write leaves, played here by writing the row as
 *   SQLite would hold it) is flagged in red;
 * - with the host not answering, the drawer says following is not known and
 *   flags nothing.
 */
import { SqlClient } from "@effect/sql"
import { Effect, ManagedRuntime } from "effect"
import type { Browser, Locator, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SimHost } from "../../kernel/replay/simHost.ts"
import {
  arrive,
  type Client,
  exitAfter,
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
  ? "followed pipelines in Chromium"
  : `followed pipelines in Chromium (SKIPPED: ${CHROMIUM} is missing; install Debian's chromium package)`

const poll = <T,>(probe: () => Promise<T> | T, timeout = 30_000) => expect.poll(probe, { timeout, interval: 100 })

const makeRuntime = (staticDir: string) => ManagedRuntime.make(serverLayer({ staticDir }))
type Runtime = ReturnType<typeof makeRuntime>
type Services = ManagedRuntime.ManagedRuntime.Context<Runtime>

describe.skipIf(!hasChromium)(suiteName, { timeout: 180_000 }, () => {
  let runtime: Runtime | undefined
  let browser: Browser | undefined
  let page: Page
  let admin: Client
  let hanging: RunView | undefined

  const run = <A, E>(effect: Effect.Effect<A, E, Services>): Promise<A> => {
    if (runtime === undefined) throw new Error("no runtime")
    return runtime.runPromise(effect)
  }
  const runsOfDoc = (doc: string, done: (runs: ReadonlyArray<RunView>) => boolean) => run(waitRuns(admin, doc, done))
  const drawer = (): Locator => page.getByTestId("drawer")
  const following = (): Locator => drawer().getByTestId("drawer-following")
  const go = (hash: string) => page.evaluate((h) => (location.hash = h), hash)
  const closeDrawer = async () => {
    await page.keyboard.press("Escape")
    await poll(() => drawer().count()).toBe(0)
  }

  beforeAll(async () => {
    const outDir = await builtUi()
    runtime = makeRuntime(outDir)
    const base = (await run(TestServer)).base
    admin = await run(signIn("admin"))
    // One worker in the test config: the finished job first, then the one that hangs.
    await run(arrive("fw-done", "Epi-Insight", "P-8002", [exitAfter(0, 30)]))
    await runsOfDoc("fw-done", (runs) => lastOf(runs)?.state === "succeeded")
    await run(arrive("fw-hang", "Epi-Insight", "P-8001", [hang]))
    hanging = lastOf(await runsOfDoc("fw-hang", (runs) => lastOf(runs)?.state === "running"))

    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
    page.setDefaultTimeout(45_000)
    await page.goto(base, { timeout: 120_000 })
    await page.locator("input[name=username]").fill(USERS.viewer.name)
    await page.locator("input[name=password]").fill(USERS.viewer.password)
    await page.getByRole("button", { name: "Sign in" }).click()
    await page.getByTestId("who").waitFor()
  }, 600_000)

  afterAll(async () => {
    await browser?.close()
    await runtime?.dispose()
  }, 60_000)

  it("a running job's drawer and its jobs-table row say the execution host follows it", async () => {
    const row = page.locator(`[data-testid=jobs-table] tbody tr[data-doc="fw-hang"]`).first()
    await poll(() => row.getByTestId("following").getAttribute("data-following")).toBe("followed")
    expect(await row.getByTestId("following").textContent()).toBe("followed by the execution host")
    // A finished row says nothing about following.
    const done = page.locator(`[data-testid=jobs-table] tbody tr[data-doc="fw-done"]`).first()
    expect(await done.getByTestId("following").count()).toBe(0)

    await go("#/doc/fw-hang")
    await poll(() => following().getAttribute("data-following")).toBe("followed")
    expect(await following().textContent()).toBe("followed by the execution host")
    await shot(page, "drawer-followed")
    await closeDrawer()
  })

  it("a row the database calls running that the executor does not list is flagged", async () => {
    // The row as a lost outcome write leaves it: running, started a minute ago, nothing following it.
    await run(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE job_runs SET state = 'running', finished_at = NULL, exit_code = NULL,
          started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-60 seconds') WHERE doc_id = 'fw-done'`
      })
    )
    await go("#/doc/fw-done")
    await poll(() => following().getAttribute("data-following")).toBe("missing")
    expect(await following().textContent()).toMatch(/^not followed by the execution host: the allocator still counts this attempt as running/)
    await shot(page, "drawer-not-followed")
    await closeDrawer()
  })

  it("with the execution host not answering, following is not known and nothing is flagged", async () => {
    const sim = await run(SimHost)
    await run(sim.setUnavailable(true))
    try {
      await go("#/doc/fw-hang")
      await poll(() => following().getAttribute("data-following")).toBe("unknown")
      expect(await following().textContent()).toBe(
        "Not known whether the execution host follows it: the execution host does not answer (simulated)"
      )
      await closeDrawer()
    } finally {
      await run(sim.setUnavailable(false))
    }
    expect(hanging?.state).toBe("running")
  })
})
