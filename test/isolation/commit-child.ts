/**
 * The child of the crash-in-commit test: finishes one sandboxed run that
 * exited 0 (so its changes are committed) and is SIGKILLed by the test at a
 * random point of that commit.
 *
 *   tsx test/isolation/commit-child.ts '<{"options": …, "spec": …}>'
 */
import { Effect } from "effect"
import type { PipelineSpec } from "../../kernel/ports/executor.ts"
import { makeSandboxLauncher, type SandboxLauncherOptions } from "../../kernel/process/sandbox/launcher.ts"

const input = JSON.parse(process.argv[2] ?? "{}") as { readonly options: SandboxLauncherOptions; readonly spec: PipelineSpec }
// Each commit step takes ~1 ms more, so a kill at a random instant lands inside the commit, not after it.
const busy = (ms: number) => {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // spin
  }
}
const launcher = makeSandboxLauncher({ ...input.options, commitProbe: { step: () => busy(1) } })
process.stdout.write("BEGIN\n")
void Effect.runPromise(launcher.finish(input.spec, { code: 0, signal: null, timedOut: false })).then((exit) => {
  process.stdout.write(`DONE ${JSON.stringify(exit)}\n`)
})
