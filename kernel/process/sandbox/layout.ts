/**
 * The run directory of one sandboxed attempt, and the plan saved in it. Every
 * decision `prepare` takes is written to `plan.json`, so `finish` and
 * `recover` work from the disk alone (the host may be SIGKILLed in between).
 *
 *   <scratchRoot>/run-<runId>/
 *     plan.json            what prepare decided (trees, limits, cgroups)
 *     upper-{base,user}    overlay upper dirs: everything the run changed
 *     work-{base,user}     overlay work dirs (only for a tree where P has a folder)
 *     shell-{base,user}    bound over the patient roots: only P's mount point exists
 *                          (P's view is mounted on it inside the run's mount namespace only);
 *                          anything else found here afterwards was written outside P
 *   (one level, not upper/base: each run dir is made and removed on every start, and every
 *   directory is a mkdir and an rmdir more, about 0.1 ms each on this VM's ext4; plan.json
 *   records the paths, so finish and recover work from what the run was given whichever
 *   layout made it: older plans name a `merged-*` mount point and a `bwrap.args` file)
 *     empty/               lower dir for the listing, made only when needed (see `direct`)
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
  readonly shell: string
  /**
   * P had no folder in this tree at prepare: P's view is the upper dir itself,
   * bound (no overlay: there is nothing below it to protect or copy up).
   */
  readonly direct?: boolean | undefined
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
    empty: path.join(dir, "empty"),
    repoWrites: path.join(dir, "repo-writes"),
    tree: (name: TreeName) => ({
      upper: path.join(dir, `upper-${name}`),
      work: path.join(dir, `work-${name}`),
      shell: path.join(dir, `shell-${name}`)
    })
  }
}

export type RunLayout = ReturnType<typeof runLayout>
