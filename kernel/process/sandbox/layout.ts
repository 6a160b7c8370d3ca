/**
 * The run directory of one sandboxed attempt, and the plan saved in it. Every
 * decision `prepare` takes is written to `plan.json`, so `finish` and
 * `recover` work from the disk alone (the host may be SIGKILLed in between).
 *
 *   <scratchRoot>/run-<runId>/
 *     plan.json            what prepare decided (trees, limits, cgroups)
 *     bwrap.args           bwrap's options (NUL-separated), read by bwrap at launch
 *     upper-{base,user}    overlay upper dirs: everything the run changed
 *     work-{base,user}     overlay work dirs
 *     merged-{base,user}   overlay mount points (inside the run's mount namespace only)
 *     shell-{base,user}    bound over the patient roots: only P's mount point exists;
 *                          anything else found here afterwards was written outside P
 *   (one level, not upper/base: each run dir is made and removed on every start, and every
 *   level is a mkdir and an rmdir more; plan.json records the paths, so finish and recover
 *   work from what the run was given whichever layout made it)
 *     empty/               lower dir for a patient that has no folder yet
 *     repo-writes/         private copies of whitelisted repo paths
 *     journal.json         the commit in progress (see commit.ts)
 *     outcome.json         the finished PipelineExit (finish is idempotent)
 */
import * as path from "node:path"
import type { RunCgroups, RunLimits } from "./limits.ts"

export type TreeName = "base" | "user"

export interface TreePlan {
  readonly name: TreeName
  /** `<patientBaseDir>` or `<userDataDir>` (real path). */
  readonly root: string
  /** `<root>/<patientId>`. */
  readonly real: string
  /** What the overlay's lower layer is: `real`, or `empty/` when the patient has no folder yet. */
  readonly lower: string
  readonly existed: boolean
  readonly upper: string
  readonly work: string
  readonly merged: string
  readonly shell: string
}

export interface RunPlan {
  readonly version: 1
  readonly runId: number
  readonly patientId: string
  readonly service: string
  readonly trees: ReadonlyArray<TreePlan>
  readonly limits: RunLimits
  readonly cgroups: RunCgroups | null
  /** The host is not root: the launch builds its own user namespace. */
  readonly unprivileged: boolean
}

export const runDirName = (runId: number) => `run-${runId}`
export const runDirPattern = /^run-(\d+)$/

export const runLayout = (scratchRoot: string, runId: number) => {
  const dir = path.join(scratchRoot, runDirName(runId))
  return {
    dir,
    plan: path.join(dir, "plan.json"),
    outcome: path.join(dir, "outcome.json"),
    journal: path.join(dir, "journal.json"),
    bwrapArgs: path.join(dir, "bwrap.args"),
    empty: path.join(dir, "empty"),
    repoWrites: path.join(dir, "repo-writes"),
    tree: (name: TreeName) => ({
      upper: path.join(dir, `upper-${name}`),
      work: path.join(dir, `work-${name}`),
      merged: path.join(dir, `merged-${name}`),
      shell: path.join(dir, `shell-${name}`)
    })
  }
}

export type RunLayout = ReturnType<typeof runLayout>
