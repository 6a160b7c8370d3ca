/**
 * A real single-node Slurm (slurmctld + slurmd + munged, Debian's slurm-wlm)
 * for the integration tests, in its own network namespace so that its ports
 * and its node name never meet another cluster or another test run.
 *
 * Recipe (known to work on these machines, as root): `unshare -n` holder; `lo`
 * up with a second loopback address (glibc's lookups need one, or slurmctld
 * dies); munged with a private key and socket in a folder others may enter;
 * proctrack/linuxproc, task/none, no accounting, jobcomp/filetxt, MinJobAge=5.
 *
 * The client commands are reached through wrappers in `binDir` that enter the
 * namespace (`nsenter --net`) with SLURM_CONF set: the executor's `binDir`
 * option is the same mechanism an operator uses for a non-standard install.
 *
 * Nothing is skipped: if Slurm cannot start, `startSlurmCluster` throws with
 * the reason and the tail of the daemons' logs.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, promises as fs, readdirSync, readFileSync, readlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"

const run = promisify(execFile)

export const CLIENT_COMMANDS = ["sbatch", "squeue", "scontrol", "scancel", "sinfo"] as const

export interface SlurmCluster {
  readonly dir: string
  /** Wrappers of the client commands (enter the namespace, set SLURM_CONF). */
  readonly binDir: string
  readonly partition: string
  /** A client command against this cluster. */
  readonly client: (command: (typeof CLIENT_COMMANDS)[number], args: ReadonlyArray<string>) => Promise<{ stdout: string; stderr: string; code: number }>
  readonly stopController: () => Promise<void>
  readonly startController: () => Promise<void>
  readonly stop: () => Promise<void>
  readonly logs: () => Promise<string>
}

const required = ["slurmctld", "slurmd", "munged", "sbatch", "squeue", "scontrol", "scancel", "sinfo", "unshare", "nsenter", "ip"]

const which = async (command: string): Promise<string | undefined> => {
  try {
    const { stdout } = await run("sh", ["-c", `command -v ${command}`])
    return stdout.trim() || undefined
  } catch {
    return undefined
  }
}

const waitFor = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, onTimeout: () => Promise<string>): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`Slurm test cluster: ${what} not within ${timeoutMs} ms\n${await onTimeout()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null

const stopChild = async (child: ChildProcess | undefined): Promise<void> => {
  if (child === undefined || exited(child)) return
  const gone = new Promise<void>((r) => child.once("exit", () => r()))
  child.kill("SIGTERM")
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
  await gone
  clearTimeout(timer)
}

const slurmConf = (dir: string, partition: string) => `ClusterName=lomitest
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=${dir}/munge/munge.socket
CredType=cred/munge
StateSaveLocation=${dir}/state
SlurmdSpoolDir=${dir}/spool
SlurmctldPidFile=${dir}/slurmctld.pid
SlurmdPidFile=${dir}/slurmd.pid
SlurmctldLogFile=${dir}/log/slurmctld.log
SlurmdLogFile=${dir}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=${dir}/jobcomp.txt
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerParameters=batch_sched_delay=0
DefMemPerCPU=64
MinJobAge=5
KillWait=5
InactiveLimit=0
ReturnToService=2
MpiDefault=none
SlurmdParameters=config_overrides
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmctldTimeout=30
SlurmdTimeout=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs=16 RealMemory=8000 State=UNKNOWN
PartitionName=${partition} Nodes=localhost Default=YES MaxTime=INFINITE State=UP
`

/** SIGKILLs every process whose environment names this cluster's slurm.conf (job steps and what they started). */
const killLeftovers = (conf: string) => {
  const marker = `SLURM_CONF=${conf}`
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
    try {
      if (readFileSync(`/proc/${name}/environ`, "utf8").split("\0").includes(marker)) process.kill(Number(name), "SIGKILL")
    } catch {
      // gone, or not ours to read
    }
  }
}

export const startSlurmCluster = async (): Promise<SlurmCluster> => {
  if (process.getuid?.() !== 0) {
    throw new Error("Slurm test cluster: must run as root (slurmd starts jobs as their user; munged and the namespace need root)")
  }
  const paths = new Map<string, string>()
  for (const command of required) {
    const found = await which(command)
    if (found === undefined) {
      throw new Error(`Slurm test cluster: ${command} not found; install slurm-wlm and munge (make system-deps does, as root)`)
    }
    paths.set(command, found)
  }
  const bin = (command: string) => paths.get(command) ?? command
  const dir = await fs.mkdtemp(join(tmpdir(), "lomi-slurm-"))
  const partition = "lomi"
  for (const sub of ["munge", "state", "spool", "log", "bin"]) await fs.mkdir(join(dir, sub), { recursive: true })
  // munged refuses a socket folder others cannot enter, and a key others can read.
  await fs.chmod(dir, 0o755)
  await fs.chmod(join(dir, "munge"), 0o755)
  await fs.writeFile(join(dir, "munge", "munge.key"), randomBytes(1024), { mode: 0o400 })
  const conf = join(dir, "slurm.conf")
  await fs.writeFile(conf, slurmConf(dir, partition))

  const children: Array<ChildProcess> = []
  const holder = spawn(bin("unshare"), ["-n", "sleep", "infinity"], { stdio: "ignore" })
  children.push(holder)
  const ns = `/proc/${holder.pid}/ns/net`
  const own = readlinkSync("/proc/self/ns/net")
  const logs = async () => {
    const parts: Array<string> = []
    for (const name of ["munged.log", "slurmctld.log", "slurmd.log"]) {
      const text = await fs.readFile(join(dir, "log", name), "utf8").catch(() => "(no log)")
      parts.push(`--- ${name}\n${text.split("\n").slice(-15).join("\n")}`)
    }
    return parts.join("\n")
  }
  const inNs = (args: ReadonlyArray<string>) => [`--net=${ns}`, ...args]
  const daemon = (command: string, args: ReadonlyArray<string>) => {
    const child = spawn(bin("nsenter"), inNs([bin(command), ...args]), {
      stdio: "ignore",
      env: { ...process.env, SLURM_CONF: conf }
    })
    children.push(child)
    return child
  }

  let controller: ChildProcess | undefined
  let cancelJobs: () => Promise<void> = async () => undefined
  /**
   * Jobs outlive slurmd (slurmstepd is their parent), so a test that failed
   * mid-way would leave its pipeline running: cancel every job first, then
   * stop the daemons, then end whatever still carries this cluster's SLURM_CONF.
   */
  const stop = async () => {
    await cancelJobs().catch(() => undefined)
    for (const child of [...children].reverse()) await stopChild(child)
    killLeftovers(conf)
    await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined)
  }

  try {
    await waitFor("network namespace", () => {
      try {
        return readlinkSync(ns) !== own
      } catch {
        return false
      }
    }, 10_000, logs)
    await run(bin("nsenter"), inNs([bin("ip"), "link", "set", "lo", "up"]))
    await run(bin("nsenter"), inNs([bin("ip"), "addr", "add", "127.0.0.2/8", "dev", "lo"]))

    daemon("munged", [
      "-F",
      `--key-file=${dir}/munge/munge.key`,
      `--socket=${dir}/munge/munge.socket`,
      `--pid-file=${dir}/munge/munged.pid`,
      `--log-file=${dir}/log/munged.log`,
      `--seed-file=${dir}/munge/seed`
    ])
    await waitFor("munged socket", () => existsSync(join(dir, "munge", "munge.socket")), 15_000, logs)

    for (const command of CLIENT_COMMANDS) {
      await fs.writeFile(
        join(dir, "bin", command),
        `#!/bin/sh\nSLURM_CONF='${conf}' exec '${bin("nsenter")}' --net='${ns}' '${bin(command)}' "$@"\n`,
        { mode: 0o755 }
      )
    }
    const client: SlurmCluster["client"] = (command, args) =>
      new Promise((resolve) => {
        execFile(join(dir, "bin", command), [...args], { timeout: 20_000 }, (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
          resolve({ stdout, stderr, code })
        })
      })

    const startController = async () => {
      controller = daemon("slurmctld", ["-D", "-f", conf])
      await waitFor("slurmctld answering", async () => (await client("scontrol", ["ping"])).stdout.includes("UP"), 30_000, logs)
    }
    const stopController = async () => {
      const c = controller
      controller = undefined
      await stopChild(c)
    }

    await startController()
    cancelJobs = async () => {
      if (controller === undefined) return
      await client("scancel", ["--full", "--signal=KILL", `--partition=${partition}`])
      await client("scancel", [`--partition=${partition}`])
      const deadline = Date.now() + 20_000
      while (Date.now() < deadline && (await client("squeue", ["-h", "-o", "%i"])).stdout.trim() !== "") {
        await new Promise((r) => setTimeout(r, 200))
      }
    }
    daemon("slurmd", ["-D", "-N", "localhost", "-f", conf])
    await waitFor(
      "node idle",
      async () => /idle|mix|alloc/.test((await client("sinfo", ["-h", "-o", "%T"])).stdout),
      30_000,
      logs
    )
    return { dir, binDir: join(dir, "bin"), partition, client, stopController, startController, stop, logs }
  } catch (error) {
    await stop()
    throw error
  }
}
