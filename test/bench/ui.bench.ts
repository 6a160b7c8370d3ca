/**
 * The dashboard as an operator's browser sees it (`make bench`):
 *
 * 1. built bundle size, gzip, against an empty Solid app built the same way
 *    (what the framework alone costs) and the 150 KB target;
 * 2. time to first render (state cards counted and the jobs table filled)
 *    with 10,000 jobs in the store, against the same page on an empty store;
 * 3. Data Ready written to Firestore → its row visible in an open page, p50
 *    and p99, against the same write → row answered by the API (the server's
 *    share of it);
 * 4. outage entered in the kernel → banner, header flag and Health panel all
 *    showing it, p99.
 *
 * The allocator is the test one (test/http/support.ts: in-memory Firestore,
 * simulated pipelines, real SQLite, the real HTTP layer) so only the
 * dashboard's path is timed. Debian's Chromium via playwright-core.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { gzipSync } from "node:zlib"
import { SqlClient } from "@effect/sql"
import { Effect, Logger, LogLevel, ManagedRuntime } from "effect"
import { build } from "vite"
import solid from "vite-plugin-solid"
import { MemoryFirestore } from "../../kernel/firestore/memory.ts"
import { Outage } from "../../kernel/outage.ts"
import { arrive, exitAfter, serverLayer, signIn, TestServer, USERS } from "../http/support.ts"
import { builtUi, hasChromium, launchChromium, repoRoot } from "../browser/support.ts"
import { ms, ratio, table } from "./table.ts"

const JOBS = 10_000
const RENDERS = 5
const WRITES = 40
const OUTAGES = 8
const TARGET_GZIP_KB = 150
const TARGET_FIRST_RENDER_MS = 1000
const TARGET_WRITE_P99_MS = 1500
const TARGET_OUTAGE_MS = 2000

const out = (line = "") => process.stdout.write(`${line}\n`)
const quantile = (xs: ReadonlyArray<number>, q: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN
}
const median = (xs: ReadonlyArray<number>) => quantile(xs, 0.5)

const gzipKb = (dir: string) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(js|css|html)$/.test(e.name))
    .reduce((sum, e) => sum + gzipSync(readFileSync(join(e.parentPath, e.name))).length, 0) / 1024

/** The framework alone: a Solid app that renders one line, built with the same settings. */
const emptySolidApp = async (): Promise<string> => {
  // Inside the repository (.bench/ is gitignored) so that solid-js resolves from its node_modules.
  mkdirSync(join(repoRoot, ".bench"), { recursive: true })
  const root = mkdtempSync(join(repoRoot, ".bench", "empty-solid-"))
  mkdirSync(join(root, "src"))
  writeFileSync(join(root, "index.html"), '<!doctype html><div id="root"></div><script type="module" src="/src/main.tsx"></script>')
  writeFileSync(
    join(root, "src/main.tsx"),
    'import { render } from "solid-js/web"\nconst root = document.getElementById("root")\nif (root !== null) render(() => <p>hello</p>, root)\n'
  )
  await build({
    root,
    configFile: false,
    logLevel: "warn",
    plugins: [solid()],
    build: { outDir: join(root, "dist"), emptyOutDir: true, target: "es2022", sourcemap: false }
  })
  return join(root, "dist")
}

const main = async () => {
  if (!hasChromium) {
    out("Chromium is missing (/usr/bin/chromium): the UI bench needs it; install Debian's chromium.")
    process.exitCode = 1
    return
  }
  // 1. Bundle size
  const ui = await builtUi()
  const empty = await emptySolidApp()
  const uiKb = gzipKb(ui)
  const emptyKb = gzipKb(empty)
  rmSync(dirname(empty), { recursive: true, force: true })

  // 2-4 need the allocator and a browser.
  const runtime = ManagedRuntime.make(serverLayer({ staticDir: ui }))
  const run = <A, E>(effect: Effect.Effect<A, E, ManagedRuntime.ManagedRuntime.Context<typeof runtime>>) =>
    runtime.runPromise(effect.pipe(Logger.withMinimumLogLevel(LogLevel.Warning)))
  const { base } = await run(TestServer)
  const admin = await run(signIn("admin"))
  const browser = await launchChromium()
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } })
  const page = await context.newPage()
  page.setDefaultTimeout(120_000)
  await page.goto(base, { timeout: 120_000 })
  await page.locator("input[name=username]").fill(USERS.admin.name)
  await page.locator("input[name=password]").fill(USERS.admin.password)
  await page.getByRole("button", { name: "Sign in" }).click()
  await page.getByTestId("who").waitFor()

  /** Navigation start → cards counted and `rows` job rows on screen, from the page's own clock. */
  const firstRender = async (rows: number) => {
    const times: Array<number> = []
    for (let i = 0; i < RENDERS; i++) {
      await page.goto(`${base}/#/`, { timeout: 120_000 })
      await page.reload({ timeout: 120_000 })
      const handle = await page.waitForFunction(
        (want) => {
          const count = document.querySelector("[data-testid=count-succeeded]")?.textContent ?? "…"
          const shown = document.querySelectorAll("[data-testid=jobs-table] tbody tr").length
          return count !== "…" && shown >= want ? performance.now() : false
        },
        rows,
        { polling: "raf", timeout: 120_000 }
      )
      times.push(Number(await handle.jsonValue()))
    }
    return times
  }
  const emptyRender = await firstRender(0)

  await run(
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const day = Date.parse("2026-10-01T00:00:00.000Z")
      for (let start = 0; start < JOBS; start += 500) {
        const rows = Array.from({ length: Math.min(500, JOBS - start) }, (_, k) => {
          const i = start + k
          const at = new Date(day + i * 60_000).toISOString()
          return {
            doc_id: `bench-ui-${i}`,
            service: ["Gen-Decoder", "Epi-Insight", "Omni-Health"][i % 3] ?? "Epi-Insight",
            patient_id: `P-${100000 + i}`,
            patient_name: `Patient ${i}`,
            state: i % 10 === 0 ? "failed_permanent" : "succeeded",
            attempt: 1,
            started_at: at,
            finished_at: at,
            exit_code: i % 10 === 0 ? 1 : 0,
            created_at: at,
            updated_at: at
          }
        })
        yield* sql`INSERT INTO job_runs ${sql.insert(rows)}`
      }
    })
  )
  const fullRender = await firstRender(50)

  // 3. Data Ready → visible
  await page.goto(`${base}/#/`)
  await page.locator("[data-testid=jobs-table] tbody tr").first().waitFor()
  await page.evaluate(() => {
    const seen: Record<string, number> = {}
    Reflect.set(window, "__seen", seen)
    new MutationObserver(() => {
      for (const tr of document.querySelectorAll("[data-testid=jobs-table] tbody tr[data-doc^='bench-live-']")) {
        const doc = tr.getAttribute("data-doc") ?? ""
        if (seen[doc] === undefined) seen[doc] = Date.now()
      }
    }).observe(document.body, { subtree: true, childList: true })
  })
  const screen: Array<number> = []
  const server: Array<number> = []
  for (let i = 0; i < WRITES; i++) {
    const doc = `bench-live-${i}`
    const written = Date.now()
    await run(arrive(doc, "Epi-Insight", `P-L${i}`, [exitAfter(0, 20)]))
    for (;;) {
      const reply = await run(admin.get(`/api/jobs?q=${doc}&limit=1`))
      if (((reply.body as { items?: ReadonlyArray<unknown> }).items ?? []).length > 0) break
      await new Promise((r) => setTimeout(r, 5))
    }
    server.push(Date.now() - written)
    const handle = await page.waitForFunction((d) => (Reflect.get(window, "__seen") as Record<string, number>)[d] ?? false, doc, {
      polling: 50,
      timeout: 60_000
    })
    screen.push(Number(await handle.jsonValue()) - written)
  }

  // 4. Outage → banner, header and Health panel
  const outage: Array<number> = []
  for (let i = 0; i < OUTAGES; i++) {
    for (const down of [true, false]) {
      const at = Date.now()
      await run(
        Effect.gen(function* () {
          yield* (yield* MemoryFirestore).setOutage(down)
          const o = yield* Outage
          if (down) yield* o.enter
          else yield* o.leave
        })
      )
      await page.waitForFunction(
        (d) =>
          (document.querySelector("[data-testid=outage-banner]") !== null) === d &&
          (document.querySelector("[data-testid=header-outage]") !== null) === d &&
          document.querySelector("[data-testid=health-firestore]")?.getAttribute("data-ok") === String(!d),
        down,
        { polling: 20, timeout: 60_000 }
      )
      outage.push(Date.now() - at)
    }
  }

  await browser.close()
  await runtime.dispose()

  out(`Dashboard in Chromium, ${new Date().toISOString()}, node ${process.version}, load ${(await import("node:os")).loadavg()[0]?.toFixed(1)}`)
  out()
  out(
    table(
      ["measure", "dashboard", "baseline", "ratio", "target", "met"],
      [
        ["bundle, gzip (JS + CSS + HTML)", `${uiKb.toFixed(1)} KB`, `${emptyKb.toFixed(1)} KB (empty Solid app)`, ratio(uiKb, emptyKb), `< ${TARGET_GZIP_KB} KB`, uiKb < TARGET_GZIP_KB ? "yes" : "NO"],
        [
          `first render, ${JOBS.toLocaleString("en")} jobs (median of ${RENDERS})`,
          `${ms(median(fullRender))} ms`,
          `${ms(median(emptyRender))} ms (empty store)`,
          ratio(median(fullRender), median(emptyRender)),
          `< ${TARGET_FIRST_RENDER_MS} ms`,
          median(fullRender) < TARGET_FIRST_RENDER_MS ? "yes" : "NO"
        ],
        [
          `Data Ready → on screen, p50 (${WRITES} writes)`,
          `${ms(median(screen))} ms`,
          `${ms(median(server))} ms (→ in the API)`,
          ratio(median(screen), median(server)),
          "",
          ""
        ],
        [
          `Data Ready → on screen, p99 (${WRITES} writes)`,
          `${ms(quantile(screen, 0.99))} ms`,
          `${ms(quantile(server, 0.99))} ms (→ in the API)`,
          ratio(quantile(screen, 0.99), quantile(server, 0.99)),
          `< ${TARGET_WRITE_P99_MS} ms`,
          quantile(screen, 0.99) < TARGET_WRITE_P99_MS ? "yes" : "NO"
        ],
        [
          `outage on/off → banner, header, health agree, p99 (${OUTAGES * 2})`,
          `${ms(quantile(outage, 0.99))} ms`,
          "",
          "",
          `< ${TARGET_OUTAGE_MS} ms`,
          quantile(outage, 0.99) < TARGET_OUTAGE_MS ? "yes" : "NO"
        ]
      ]
    )
  )
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    process.stderr.write(`ui bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  }
)
