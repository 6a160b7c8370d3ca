/**
 * Benchmark probe, preloaded into every allocator process the bench starts
 * (`node --import ./test/bench/probe.mjs dist/kernel/launch.js …`; the
 * launcher passes its execArgv on to the processes it starts). Product code
 * knows nothing of it.
 *
 * It answers on `<LOMI_BENCH_PROBE_DIR>/<role>.sock`: each connection gets
 * one JSON line, the process's CPU time, RSS, heap, peak RSS, and event-loop
 * delay (p50/p99/max) since the last SIGUSR2, which starts a new measurement
 * window (the bench sends it right before a burst). `role` is the entry's
 * name: launcher, kernel, exechost, dashboard.
 *
 * Why a socket and not a file written every second: a file write (open,
 * write, rename) cost the kernel several milliseconds of CPU each second on
 * the loaded machine, charged to the very figure being measured. Between
 * questions the probe only reads its RSS once a second (for the window's peak).
 */
import { rmSync, writeFileSync } from "node:fs"
import { Session } from "node:inspector"
import { createServer } from "node:net"
import { basename, dirname, join } from "node:path"
import { monitorEventLoopDelay, performance } from "node:perf_hooks"

const dir = process.env.LOMI_BENCH_PROBE_DIR
const entry = process.argv[1] ?? ""
const role =
  basename(entry) === "launch.js" ? "launcher" : basename(entry) === "main.js" ? (basename(dirname(entry)) === "kernel" ? "kernel" : basename(dirname(entry))) : basename(entry)

/**
 * LOMI_BENCH_PROBE_PROFILE_DIR: a V8 CPU profile from this preload to exit,
 * written as <role>-<pid>.cpuprofile (Node 20 refuses --cpu-prof in
 * NODE_OPTIONS, and `make run` passes no node flags; startup.bench.ts uses
 * it). Profiler.stop answers synchronously on the same thread, so the exit
 * handler can write it.
 */
const profileDir = process.env.LOMI_BENCH_PROBE_PROFILE_DIR
if (profileDir !== undefined && profileDir !== "") {
  const session = new Session()
  session.connect()
  session.post("Profiler.enable")
  session.post("Profiler.setSamplingInterval", { interval: 1000 })
  session.post("Profiler.start")
  process.on("exit", () =>
    session.post("Profiler.stop", (error, result) => {
      if (error === null) writeFileSync(join(profileDir, `${role}-${process.pid}.cpuprofile`), JSON.stringify(result.profile))
    })
  )
}

if (dir !== undefined && dir !== "") {
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  let windowStart = performance.now()
  let peakRss = 0
  const elu0 = { value: performance.eventLoopUtilization() }
  process.on("SIGUSR2", () => {
    delay.reset()
    peakRss = 0
    windowStart = performance.now()
    elu0.value = performance.eventLoopUtilization()
  })
  const stats = () => {
    const mem = process.memoryUsage()
    peakRss = Math.max(peakRss, mem.rss)
    const cpu = process.cpuUsage()
    const elu = performance.eventLoopUtilization(elu0.value)
    return {
      pid: process.pid,
      at: Date.now(),
      uptimeMs: performance.now(),
      windowMs: performance.now() - windowStart,
      cpuMs: (cpu.user + cpu.system) / 1000,
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      peakRssWindow: peakRss,
      maxRss: process.resourceUsage().maxRSS * 1024,
      eldP50Ms: delay.count > 0 ? delay.percentile(50) / 1e6 : 0,
      eldP99Ms: delay.count > 0 ? delay.percentile(99) / 1e6 : 0,
      eldMaxMs: delay.count > 0 ? delay.max / 1e6 : 0,
      elu: elu.utilization
    }
  }
  const socketPath = join(dir, `${role}.sock`)
  rmSync(socketPath, { force: true })
  const server = createServer((socket) => socket.end(`${JSON.stringify(stats())}\n`))
  server.on("error", () => undefined)
  server.listen(socketPath)
  server.unref()
  const timer = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss())
  }, 1000)
  timer.unref()
}
