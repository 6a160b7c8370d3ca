/**
 * The `make run` launcher: starts the allocator's processes from their
 * compiled bundles and stops them together.
 *
 *   node dist/kernel/launch.js [config.json]
 *
 * Processes, in start order (each gets the same arguments and environment):
 *   1. the execution host, dist/kernel/exechost/main.js, when it is built
 *      (the kernel's client also starts one on its own when none answers);
 *   2. the kernel, dist/kernel/main.js;
 *   3. the dashboard server, dist/kernel/dashboard/main.js, when it is built.
 *
 * Exit code 75 from the kernel means "restart requested" (the dashboard's
 * "Restart now", kernel/restart.ts): the launcher starts the kernel again and
 * leaves the others running. Under systemd, `Restart=always` does this instead.
 * Any other kernel exit, or SIGINT/SIGTERM to the launcher, stops everything:
 * the kernel and the dashboard server first, the execution host last (it
 * outlives the kernel by design, so it is told last). Pipelines are the
 * host's business; stopping the host does not end them.
 *
 * Children run in their own process groups, so a Ctrl-C reaches each of them
 * once, from here, in that order. Plain Node, no Effect: this process only
 * forwards signals and must stay small.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

/** EX_TEMPFAIL: the kernel stopped in order and asks to be started again (kernel/restart.ts). */
export const RESTART_REQUESTED = 75
/** A kernel that keeps asking for restarts faster than this is stopped instead of looping. */
const MIN_RESTART_INTERVAL_MS = 2_000

/** Bundles by their place in the tree (the build gives `import.meta.url` this source file's URL). */
const bundle = (path: string) => fileURLToPath(new URL(`../dist/kernel/${path}`, import.meta.url))
const KERNEL = bundle("main.js")
const OPTIONAL = {
  host: bundle("exechost/main.js"),
  dashboard: bundle("dashboard/main.js")
}
const args = process.argv.slice(2)

const say = (line: string) => process.stderr.write(`launcher: ${line}\n`)

/**
 * The dashboard server's V8 heap: a 2 MiB young generation instead of the
 * default 16 MiB (x3 committed, a fifth of its RSS at rest; 4 MiB rested
 * ~6 MiB higher, over the 80 MiB target). Not 1 MiB: 32 requests in flight
 * hold a few MiB of young objects between them, and at 1 MiB they were
 * promoted before they died, which cost ~60% more CPU per jobs page in
 * garbage collection (dashboard-load bench). Not --optimize-for-size
 * (-4 MiB at rest, but ~2x the CPU per request) nor a lower glibc mmap
 * threshold (-8 MiB, ~2x the CPU too).
 *
 * Old space grows by 10% of what survived the last full collection instead
 * of V8's 1.1x-4x (it never goes under its 8 MiB minimum step): under 200
 * clients the peak RSS was 137-146 MiB, promoted request garbage that V8
 * let old space hold; with it 112-115 MiB. Not --max-old-space-size: it
 * bounds nothing this one does not, and a read that once needed more (the
 * charts over a big history) would crash the process instead of growing it.
 * What a load leaves committed is given back at rest by
 * kernel/dashboard/idleCollector.ts.
 */
const DASHBOARD_V8_FLAGS = ["--max-semi-space-size=2", "--heap-growing-percent=10"]
/**
 * The kernel's and the execution host's young generation, for the same
 * reason: at the default the kernel rested at 145-157 MiB, with 2 MiB at
 * 129 MiB (test/bench/startup.bench.ts). The kernel keeps 2 MiB, not 1: a
 * burst of arrivals allocates faster than request garbage does.
 */
const KERNEL_V8_FLAGS = ["--max-semi-space-size=2"]
/** The same list as kernel/exechost/v8flags.ts (why: there); written out here, the launcher imports nothing of ours. */
const HOST_V8_FLAGS = ["--max-semi-space-size=1", "--heap-growing-percent=10"]

const start = (name: string, file: string, env: NodeJS.ProcessEnv = process.env, flags: ReadonlyArray<string> = []): ChildProcess => {
  const child = spawn(process.execPath, [...process.execArgv, ...flags, file, ...args], { stdio: "inherit", detached: true, env })
  child.on("error", (e) => say(`${name} could not start: ${e.message}`))
  return child
}

const exited = (child: ChildProcess) =>
  new Promise<number>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode ?? 1)
    else child.once("exit", (code) => resolve(code ?? 1))
  })

const stop = async (child: ChildProcess | undefined, signal: NodeJS.Signals) => {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  child.kill(signal)
  await exited(child)
}

let stopping = false
const host = existsSync(OPTIONAL.host) ? start("execution host", OPTIONAL.host, process.env, HOST_V8_FLAGS) : undefined
// The kernel waits for this host rather than starting its own (which would outlive Ctrl-C).
const kernelEnv = host === undefined ? process.env : { ...process.env, LOMI_EXECHOST_EXTERNAL: "1" }
let kernel = start("kernel", KERNEL, kernelEnv, KERNEL_V8_FLAGS)
const dashboard = existsSync(OPTIONAL.dashboard)
  ? start("dashboard server", OPTIONAL.dashboard, process.env, DASHBOARD_V8_FLAGS)
  : undefined

const stopAll = async (signal: NodeJS.Signals, code: number) => {
  if (stopping) return
  stopping = true
  await Promise.all([stop(kernel, signal), stop(dashboard, signal)])
  await stop(host, "SIGTERM")
  process.exit(code)
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => void stopAll(signal, 0))
}

const superviseKernel = async () => {
  for (;;) {
    const startedAt = performance.now()
    const code = await exited(kernel)
    if (stopping) return
    if (code === RESTART_REQUESTED && performance.now() - startedAt >= MIN_RESTART_INTERVAL_MS) {
      say("kernel asked for a restart; starting it again")
      kernel = start("kernel", KERNEL, kernelEnv, KERNEL_V8_FLAGS)
      continue
    }
    if (code === RESTART_REQUESTED) say("kernel asked for a restart within 2 s of starting; stopping instead")
    await stopAll("SIGTERM", code)
    return
  }
}

void superviseKernel()
