/**
 * A baseline runner in a small process of its own (so a spawn costs what it
 * costs from a small parent, not from the bench driver's heap):
 *
 *   node test/bench/rawRun.mjs spawn <n> <concurrency> <script>
 *   node test/bench/rawRun.mjs bwrap <n> <concurrency> <script>
 *   node test/bench/rawRun.mjs bullmq <n> <concurrency> <script> <redisPort>
 *   node test/bench/rawRun.mjs bullmq-bwrap <n> <concurrency> <script> <redisPort>
 *
 * Runs the script n times (args `<docId> <patientId> Epi-Insight`, as the
 * allocator calls it), at most `concurrency` at a time, and prints
 * `{"jobs": n, "ms": wall}` as the last line. bullmq: n jobs are added in one
 * addBulk, a Worker with that concurrency spawns the script per job (inside
 * bwrap for bullmq-bwrap: the same work as the allocator with its sandbox on).
 */
import { spawn } from "node:child_process"

const [mode, nText, concText, script, redisPort] = process.argv.slice(2)
const n = Number(nText)
const concurrency = Number(concText)

const BWRAP = [
  "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
  "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net", "--die-with-parent", "--new-session"
]

const runOnce = (i) =>
  new Promise((resolve, reject) => {
    const args = [script, `raw-${i}`, `P${i % 20}`, "Epi-Insight"]
    const child = mode === "bwrap" || mode === "bullmq-bwrap" ? spawn("bwrap", [...BWRAP, "bash", ...args], { stdio: "ignore" }) : spawn("bash", args, { stdio: "ignore" })
    child.on("error", reject)
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${mode} run ${i} exited ${code}`))))
  })

const pool = async () => {
  let next = 0
  const worker = async () => {
    while (next < n) await runOnce(next++)
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

const bullmq = async () => {
  const { Queue, Worker } = await import("bullmq")
  const connection = { host: "127.0.0.1", port: Number(redisPort) }
  const name = `bench-${process.pid}`
  const queue = new Queue(name, { connection })
  let done = 0
  let finish
  const finished = new Promise((resolve) => (finish = resolve))
  const worker = new Worker(name, async (job) => runOnce(job.data.i), { connection, concurrency })
  worker.on("completed", () => {
    done += 1
    if (done === n) finish()
  })
  worker.on("failed", (_job, e) => {
    process.stderr.write(`bullmq job failed: ${e.message}\n`)
    done += 1
    if (done === n) finish()
  })
  await worker.waitUntilReady()
  const started = performance.now()
  await queue.addBulk(Array.from({ length: n }, (_, i) => ({ name: "run", data: { i }, opts: { removeOnComplete: true } })))
  await finished
  const ms = performance.now() - started
  await worker.close()
  await queue.close()
  return ms
}

if (mode === "bullmq" || mode === "bullmq-bwrap") {
  const ms = await bullmq()
  process.stdout.write(`${JSON.stringify({ jobs: n, ms })}\n`)
} else {
  const started = performance.now()
  await pool()
  process.stdout.write(`${JSON.stringify({ jobs: n, ms: performance.now() - started })}\n`)
}
