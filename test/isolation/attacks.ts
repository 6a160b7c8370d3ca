/**
 * Runs every attack of the isolation suite through the real sandbox launcher
 * (real bwrap, real overlay mounts) as whoever starts it, and prints one JSON
 * report. The suite starts it twice: as root, and under
 * `setpriv --reuid=65534` as an unprivileged user.
 *
 *   tsx test/isolation/attacks.ts <world dir>      (created, owned by the caller)
 *
 * Each attack gets its own patient (and, where it aims at one, its own
 * victim), so one attack's commit cannot mask another's damage.
 */
import { execFileSync } from "node:child_process"
import { chmodSync, copyFileSync, cpSync, existsSync, linkSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Exit } from "effect"
import type { PipelineSpec } from "../../kernel/ports/executor.ts"
import { makeSandboxLauncher } from "../../kernel/process/sandbox/launcher.ts"
import { attacks, type Attack, type AttackReport } from "./catalogue.ts"
import { startLaunch, treeHash } from "./runner.ts"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const snippet = path.join(repoRoot, "fixtures/pipelines/test/snippet.sh")
const MiB = 1024 * 1024

const world = path.resolve(process.argv[2] ?? "")
const base = path.join(world, "base")
const user = path.join(world, "user")
const dataDir = path.join(world, "data")
const configFile = path.join(world, "config.json")
const credentials = path.join(world, "firestore-key.json")
const scratch = path.join(world, "scratch")
const pipelines = path.join(world, "pipelines")

const seedPatient = (id: string) => {
  mkdirSync(path.join(base, id, "sub"), { recursive: true })
  mkdirSync(path.join(base, id, "dir1"), { recursive: true })
  mkdirSync(path.join(user, id), { recursive: true })
  writeFileSync(path.join(base, id, "input.txt"), `input of ${id}\n`)
  writeFileSync(path.join(base, id, "sub", "n.txt"), "nested\n")
  writeFileSync(path.join(base, id, "dir1", "d.txt"), "in dir1\n")
  for (const name of ["big.bin", "big2.bin", "big3.bin"]) writeFileSync(path.join(base, id, name), Buffer.alloc(8 * MiB, 7))
  writeFileSync(path.join(user, id, "prior.json"), `{"patient":"${id}","secret":"SECRET-PATIENT-${id}"}\n`)
}

const setup = () => {
  for (const d of [base, user, dataDir, scratch, pipelines, path.join(dataDir, "logs", "doc-other"), path.join(scratch, "run-999999", "upper")]) {
    mkdirSync(d, { recursive: true })
  }
  writeFileSync(path.join(dataDir, "allocator.sqlite"), "SECRET-DATABASE\n")
  writeFileSync(path.join(dataDir, "logs", "doc-other", "run.log.1"), "SECRET-OTHER-LOG\n")
  writeFileSync(path.join(scratch, "run-999999", "upper", "x"), "SECRET-OTHER-SCRATCH\n")
  writeFileSync(configFile, '{"mail":{"password":"SECRET-SMTP-PASSWORD"}}\n')
  writeFileSync(credentials, '{"private_key":"SECRET-FIRESTORE-KEY"}\n')
}

const plant = (attack: Attack) => {
  seedPatient(attack.patient)
  if (attack.victim !== undefined) seedPatient(attack.victim)
  const victimRaw = path.join(base, attack.victim ?? "none", "big.bin")
  if (attack.plant === "symlink-folder") {
    // The patient's whole folder is a symlink to the victim's (left by an earlier, unsandboxed run).
    cpSync(path.join(base, attack.patient), path.join(world, "moved-away"), { recursive: true })
    execFileSync("rm", ["-rf", path.join(base, attack.patient)])
    symlinkSync(path.join(base, attack.victim ?? ""), path.join(base, attack.patient))
  } else if (attack.plant === "symlink-file") {
    symlinkSync(victimRaw, path.join(base, attack.patient, "link"))
  } else if (attack.plant === "hardlink") {
    linkSync(victimRaw, path.join(base, attack.patient, "hl"))
  }
}

const hashes = (attack: Attack) => ({
  base: treeHash(path.join(base, attack.patient)),
  user: treeHash(path.join(user, attack.patient)),
  victimBase: attack.victim === undefined ? "" : treeHash(path.join(base, attack.victim)),
  victimUser: attack.victim === undefined ? "" : treeHash(path.join(user, attack.victim)),
  roots: JSON.stringify([execFileSync("ls", ["-a", base]).toString(), execFileSync("ls", ["-a", user]).toString()])
})

const waitFor = async (check: () => boolean, ms: number) => {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 50))
  }
  return true
}

const facts = (attack: Attack): Record<string, string | number | boolean> => {
  const p = path.join(base, attack.patient)
  const out: Record<string, string | number | boolean> = {}
  const big = path.join(p, "big.bin")
  if (existsSync(big)) out["bigByte100"] = readFileSync(big).subarray(100, 101).toString("latin1")
  const big2 = path.join(p, "big2.bin")
  if (existsSync(big2)) out["big2Size"] = statSync(big2).size
  const big3 = path.join(p, "big3.bin")
  if (existsSync(big3)) out["big3Mode"] = (statSync(big3).mode & 0o777).toString(8)
  for (const rel of ["input.txt", "renamed.txt", "sub/n.txt", "dir1/d.txt", "dir2/d.txt", "new.txt"]) out[`exists:${rel}`] = existsSync(path.join(p, rel))
  return out
}

const runAttack = async (attack: Attack, hostname: string): Promise<AttackReport> => {
  plant(attack)
  const launcher = makeSandboxLauncher({
    patientBaseDir: base,
    userDataDir: user,
    minicondaBase: "",
    pipelinesRoot: pipelines,
    scratchRoot: scratch,
    bwrapPath: "/usr/bin/bwrap",
    repoWriteWhitelist: [],
    hidden: [dataDir, configFile, credentials],
    home: path.join(world, "home"),
    limits: {
      bomb: { maxProcesses: 64 },
      filler: { scratchDiskMiB: 4 },
      slow: { timeLimitSeconds: 2 }
    }
  })
  const spec: PipelineSpec = {
    runId: attack.runId,
    docId: `doc-${attack.name}`,
    patientId: attack.patient,
    service: attack.service ?? "Epi-Insight",
    attempt: 1,
    script: snippet,
    env: {
      LOMI_TEST_SNIPPET: attack.snippet,
      VICTIM: attack.victim ?? "",
      SECRETS: [path.join(dataDir, "allocator.sqlite"), configFile, credentials, path.join(dataDir, "logs", "doc-other", "run.log.1"), path.join(scratch, "run-999999", "upper", "x")].join(" ")
    },
    logFile: path.join(dataDir, "logs", `doc-${attack.name}`, "run.log.1")
  }
  const before = hashes(attack)
  const prepared = await Effect.runPromiseExit(launcher.prepare(spec))
  if (Exit.isFailure(prepared)) {
    const message = prepared.cause._tag === "Fail" ? prepared.cause.error.message : String(prepared.cause)
    return { name: attack.name, prepareError: message, before, after: hashes(attack), during: undefined, log: "", facts: facts(attack), hostname }
  }
  const running = startLaunch(prepared.value, spec.logFile)
  let during: ReturnType<typeof hashes> | undefined
  if (attack.end === "kill") {
    await waitFor(() => existsSync(spec.logFile) && readFileSync(spec.logFile, "utf8").includes("READY"), 30_000)
    during = hashes(attack)
    running.kill()
  }
  const raw = await running.exit
  const exit = await Effect.runPromise(launcher.finish(spec, raw))
  const again = await Effect.runPromise(launcher.finish(spec, raw))
  return {
    name: attack.name,
    raw,
    exit,
    finishIdempotent: JSON.stringify(again) === JSON.stringify(exit),
    before,
    during,
    after: hashes(attack),
    log: existsSync(spec.logFile) ? readFileSync(spec.logFile, "utf8") : "",
    facts: facts(attack),
    hostname
  }
}

const main = async () => {
  mkdirSync(world, { recursive: true })
  chmodSync(world, 0o755)
  setup()
  const hostname = readFileSync("/proc/sys/kernel/hostname", "utf8").trim()
  const only = process.argv[3]
  const reports: Array<AttackReport> = []
  for (const attack of attacks) {
    if (only !== undefined && attack.name !== only) continue
    reports.push(await runAttack(attack, hostname))
  }
  copyFileSync(configFile, path.join(world, "config.after.json"))
  process.stdout.write(`${JSON.stringify({ uid: process.getuid?.(), hostnameAfter: readFileSync("/proc/sys/kernel/hostname", "utf8").trim(), reports })}\n`)
}

void main()
