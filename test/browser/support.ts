/**
 * Shared by the browser tests: the dashboard built once per content of ui/
 * and schemas/ (test files run in parallel forks, so the build is keyed by a
 * hash and moved into place atomically), Debian's Chromium through
 * playwright-core, screenshots under test/artifacts/ (gitignored), the
 * axe-core check, and a Tab walk that records where focus goes. No vitest
 * import: the UI bench (test/bench/ui.bench.ts) uses it too.
 */
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { type Browser, chromium, type Page } from "playwright-core"
import { build } from "vite"

export const CHROMIUM = "/usr/bin/chromium"
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..")
export const ARTIFACTS = join(repoRoot, "test/artifacts")
export const hasChromium = existsSync(CHROMIUM)

const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === "dist" || entry.name === "node_modules" ? [] : filesUnder(path)
    return [path]
  })

/** ui/dist-like output for the current sources; built at most once per content. */
export const builtUi = async (): Promise<string> => {
  const hash = createHash("sha1")
  for (const file of [...filesUnder(join(repoRoot, "ui")), ...filesUnder(join(repoRoot, "schemas"))].sort()) {
    hash.update(file)
    hash.update(readFileSync(file))
  }
  const dir = join(tmpdir(), `lomi-ui-test-${hash.digest("hex").slice(0, 16)}`)
  if (existsSync(join(dir, "index.html"))) return dir
  const scratch = `${dir}.building-${process.pid}`
  await build({
    configFile: join(repoRoot, "ui/vite.config.ts"),
    logLevel: "warn",
    build: { outDir: scratch, emptyOutDir: true, sourcemap: false }
  })
  try {
    renameSync(scratch, dir)
  } catch {
    // Another fork finished the same build first; its copy is identical.
    rmSync(scratch, { recursive: true, force: true })
  }
  return dir
}

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })

export const shot = async (page: Page, name: string, fullPage = false): Promise<string> => {
  mkdirSync(ARTIFACTS, { recursive: true })
  const path = join(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path, fullPage })
  // A blank or truncated picture would pass unnoticed; a real screenshot of a view is well over 1 KB.
  if (statSync(path).size < 1000) throw new Error(`screenshot ${path} is nearly empty`)
  return path
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8")

export interface AxeViolation {
  readonly id: string
  readonly impact: string | null
  readonly help: string
  readonly targets: ReadonlyArray<string>
}

/** axe-core on what the page shows now (WCAG 2 A/AA rules); the serious and critical violations. */
export const seriousViolations = async (page: Page): Promise<ReadonlyArray<AxeViolation>> => {
  const loaded = await page.evaluate(() => Reflect.has(window, "axe"))
  if (!loaded) await page.addScriptTag({ content: axeSource })
  const violations = await page.evaluate(async () => {
    const axe = Reflect.get(window, "axe") as {
      run: (
        context: Document,
        options: object
      ) => Promise<{
        violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: Array<string> }> }>
      }>
    }
    const result = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.slice(0, 5).map((n) => n.target.join(" "))
    }))
  })
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical")
}

/**
 * Presses Tab from the top of the page up to `max` times and returns a label
 * for each element focus landed on (its accessible name or test id), in order.
 */
export const tabWalk = async (page: Page, max: number, start: string): Promise<ReadonlyArray<string>> => {
  // Focus the first element, then walk on from it.
  await page.locator(start).first().focus()
  const seen: Array<string> = []
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab")
    const label = await page.evaluate(() => {
      const el = document.activeElement
      if (!(el instanceof HTMLElement) || el === document.body) return ""
      const testId = el.getAttribute("data-testid")
      const name = el.getAttribute("aria-label") ?? (el.textContent ?? "").trim().replace(/\s+/g, " ").slice(0, 60)
      return `${el.tagName.toLowerCase()}|${testId ?? ""}|${name}`
    })
    seen.push(label)
  }
  return seen
}

