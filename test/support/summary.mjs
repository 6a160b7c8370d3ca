// `make test`'s last line: `N passed, N failed, N skipped` from vitest's JSON report.
// Under CI=true a skipped (or todo) test fails the run: nothing may be quietly left out.
import { readFileSync } from "node:fs"

const file = process.argv[2] ?? ".data/vitest-results.json"
let report
try {
  report = JSON.parse(readFileSync(file, "utf8"))
} catch (e) {
  console.log(`no test results in ${file}: ${e instanceof Error ? e.message : String(e)}`)
  process.exit(1)
}
const passed = report.numPassedTests ?? 0
const failed = report.numFailedTests ?? 0
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`)
if (process.env.CI === "true" && skipped > 0) {
  const names = (report.testResults ?? [])
    .flatMap((f) => (f.assertionResults ?? []).filter((a) => a.status === "pending" || a.status === "skipped" || a.status === "todo"))
    .slice(0, 10)
    .map((a) => `  skipped: ${a.fullName ?? a.title}`)
  for (const line of names) console.log(line)
  console.log(`CI=true: ${skipped} skipped test(s) fail the run`)
  process.exit(1)
}
process.exit(failed > 0 ? 1 : 0)
