/**
 * Process facts from /proc, for following monitors the host did not start
 * (a restarted host's are reparented to init) and for killing a pipeline's
 * process group. A zombie counts as gone; a pid counts as the same process
 * only with the same start time.
 */
import * as fs from "node:fs"

interface Stat {
  readonly state: string
  readonly ppid: number
  readonly startTime: string
}

const stat = (pid: number): Stat | undefined => {
  let text: string
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  } catch {
    return undefined
  }
  // After the parenthesised command name: state(3) ppid pgrp ... starttime(22).
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
  return { state: fields[0] ?? "", ppid: Number(fields[1]), startTime: fields[19] ?? "" }
}

export const startTimeOf = (pid: number): string => stat(pid)?.startTime ?? ""

/** The process `pid` started at `startTime` is alive (present and not a zombie). */
export const isAlive = (pid: number, startTime: string): boolean => {
  const s = stat(pid)
  return s !== undefined && s.state !== "Z" && s.state !== "X" && (startTime === "" || s.startTime === startTime)
}

/**
 * Live monitors on this machine whose run dir is under `runsRoot`: run dir → pid and start time.
 * Found by their command line (`<monitor> <runDir> …`), so a monitor whose
 * records the host never wrote (it died right after spawning) is found too.
 * The monitor's posix_spawn child shows the same command line until it execs
 * (it shares the monitor's memory): a match whose parent matches the same run
 * dir is that child, not a monitor.
 */
export const findMonitors = (monitorPath: string, runsRoot: string): Map<string, { pid: number; startTime: string }> => {
  const matches: Array<{ dir: string; pid: number; ppid: number; startTime: string }> = []
  const base = monitorPath.split("/").pop() ?? monitorPath
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    let argv: Array<string>
    try {
      argv = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")
    } catch {
      continue
    }
    const [exe, dir] = argv
    if (exe === undefined || dir === undefined || !exe.endsWith(base) || !dir.startsWith(runsRoot + "/")) continue
    const pid = Number(entry)
    const s = stat(pid)
    if (s !== undefined && s.state !== "Z" && s.state !== "X") matches.push({ dir, pid, ppid: s.ppid, startTime: s.startTime })
  }
  const found = new Map<string, { pid: number; startTime: string }>()
  for (const m of matches) {
    if (matches.some((other) => other.dir === m.dir && other.pid === m.ppid)) continue
    found.set(m.dir, { pid: m.pid, startTime: m.startTime })
  }
  return found
}
