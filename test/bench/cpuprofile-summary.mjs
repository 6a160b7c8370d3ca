/**
 * Where a process's time went, from a `.cpuprofile` written by
 * `LOMI_BENCH_CPU_PROF=dir` (see kernel/README.md): busy samples summed by
 * kind of work, the bundle's modules told apart by the `// path` comments
 * esbuild leaves in it, and the heaviest functions by self time.
 *
 *   node test/bench/cpuprofile-summary.mjs <file.cpuprofile> [fromSeconds] [toSeconds]
 *
 * The window (seconds from the profile's start) picks out a burst; a
 * timeline of busy milliseconds per 5 s is printed first to find it. On a
 * loaded machine a sample counts wall time, preemption included: compare
 * shares, and take CPU per job from the bench's own figure.
 */
import { readFileSync } from "node:fs"

const [file, fromText, toText] = process.argv.slice(2)
if (file === undefined) {
  process.stderr.write("usage: node test/bench/cpuprofile-summary.mjs <file.cpuprofile> [fromSeconds] [toSeconds]\n")
  process.exit(2)
}
const profile = JSON.parse(readFileSync(file, "utf8"))
const from = Number(fromText ?? 0) * 1e6
const to = Number(toText ?? 1e9) * 1e6
const nodes = new Map(profile.nodes.map((n) => [n.id, n]))

const bundles = new Map()
const modulesOf = (url) => {
  if (!bundles.has(url)) {
    const marks = []
    try {
      readFileSync(new URL(url), "utf8")
        .split("\n")
        .forEach((line, i) => {
          const m = /^\/\/ (\S+\.(?:ts|js|mjs|cjs))$/.exec(line)
          if (m) marks.push([i, m[1]])
        })
    } catch {
      // not a file we can read (node: internals): no modules
    }
    bundles.set(url, marks)
  }
  return bundles.get(url)
}
const moduleOf = (frame) => {
  if (!frame.url.startsWith("file://")) return frame.url
  let found = frame.url
  for (const [line, name] of modulesOf(frame.url)) {
    if (line <= frame.lineNumber) found = name
    else break
  }
  return found
}

const kindOf = (frame) => {
  const fn = frame.functionName
  const where = moduleOf(frame)
  if (fn === "(garbage collector)") return "garbage collection"
  if (/^(writeUtf8String|writev|writeBuffer|writeLatin1String)$/.test(fn)) return "socket writes (system calls)"
  if (/sql-sqlite-node|better-sqlite3/.test(where)) return "SQLite statements"
  if (where.includes("@effect/sql")) return "@effect/sql statement building"
  if (/ParseResult|effect\/dist\/esm\/Schema\.js/.test(where)) return "Schema encode/decode"
  if (where.includes("effect/dist")) return "Effect runtime (fibers, scheduler, core)"
  if (/firestore|grpc|protobuf|google-gax|\/long\/|duplexify|readable-stream|stream-shift/.test(where) || /\$(decode|encode|toObject)$/.test(fn)) {
    return "Firestore listener (SDK, gRPC, protobuf)"
  }
  if (/^(kernel|actors|schemas)\//.test(where)) return "our modules"
  if (where.startsWith("node:") || where === "") return "Node internals (streams, timers, events)"
  return where
}

const byKind = new Map()
const byFunction = new Map()
const timeline = []
let busy = 0
let t = 0
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0
  t += dt
  const frame = nodes.get(profile.samples[i]).callFrame
  if (frame.functionName === "(idle)" || frame.functionName === "(program)") continue
  const slot = Math.floor(t / 5e6)
  timeline[slot] = (timeline[slot] ?? 0) + dt
  if (t < from || t > to) continue
  busy += dt
  const kind = kindOf(frame)
  byKind.set(kind, (byKind.get(kind) ?? 0) + dt)
  const name = `${frame.functionName || "(anonymous)"} ${moduleOf(frame)}`
  byFunction.set(name, (byFunction.get(name) ?? 0) + dt)
}

const msText = (us) => (us / 1000).toFixed(0).padStart(7)
const share = (us) => `${((100 * us) / Math.max(1, busy)).toFixed(0).padStart(3)}%`
process.stdout.write(`busy ms per 5 s: ${Array.from(timeline, (us, i) => `${i * 5}s ${((us ?? 0) / 1000).toFixed(0)}`).join(", ")}\n`)
process.stdout.write(`\nbusy in the window: ${(busy / 1000).toFixed(0)} ms\n\nby kind of work:\n`)
for (const [kind, us] of [...byKind].sort((a, b) => b[1] - a[1])) process.stdout.write(`${msText(us)} ${share(us)}  ${kind}\n`)
process.stdout.write("\nheaviest functions (self time):\n")
for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 20)) process.stdout.write(`${msText(us)} ${share(us)}  ${name}\n`)
