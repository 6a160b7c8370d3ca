/**
 * Process facts from /proc, for following monitors the host did not start
 * (a restarted host's are reparented to init) and for killing a pipeline's
 * process group. A zombie counts as gone; a pid counts as the same process
 * only with the same start time.
 */
import * as fs from "node:fs"

interface Stat {
  readonly state: string
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
  return { state: fields[0] ?? "", startTime: fields[19] ?? "" }
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
 */
export const findMonitors = (monitorPath: string, runsRoot: string): Map<string, { pid: number; startTime: string }> => {
  const found = new Map<string, { pid: number; startTime: string }>()
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
    if (s !== undefined && s.state !== "Z" && s.state !== "X") found.set(dir, { pid, startTime: s.startTime })
  }
  return found
}
