/**
 * How one pipeline is launched and finished on this machine, independent of
 * who follows it. The execution host (and, on a compute node, the Slurm batch
 * wrapper) calls a Launcher:
 *
 *   prepare(spec) ──▶ Launch (argv, env) ──▶ the monitor runs it ──▶ RawExit
 *        ──▶ finish(spec, raw) ──▶ PipelineExit (what the kernel routes)
 *
 * Plain: prepare is `bash <script> …` on the real trees; finish passes the exit through.
 * Sandbox: prepare stages the patient's folders copy-on-write and builds the
 * bwrap command line with the service's limits; finish commits the run's
 * changes to the patient's real folders only when it exited 0 (journaled, so
 * a crash mid-commit is finished or rolled back by `recover`), and otherwise
 * discards them. `finish` is idempotent: after a crash it may run again for
 * the same run and must give the same answer.
 */
import type { Effect } from "effect"
import type { PipelineExit, PipelineSpec, SpawnError } from "../ports/executor.ts"

export interface Launch {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly cwd?: string | undefined
  /** Wall-clock limit: past it the monitor ends the process group and records `timedOut`. */
  readonly timeLimitMs?: number | undefined
}

export interface RawExit {
  readonly code: number | null
  readonly signal: string | null
  /** The monitor ended it at `timeLimitMs`. */
  readonly timedOut: boolean
}

export interface Launcher {
  readonly prepare: (spec: PipelineSpec) => Effect.Effect<Launch, SpawnError>
  readonly finish: (spec: PipelineSpec, raw: RawExit) => Effect.Effect<PipelineExit>
  /**
   * The kernel has stored the run's outcome and the caller forgets the run:
   * remove what is left of it (the sandbox's run dir with its outcome). Only
   * after this may `finish` no longer be asked again.
   */
  readonly release: (runId: number) => Effect.Effect<void>
  /** At host start: finish or roll back interrupted commits; remove scratch of runs not in `live`. Returns how many scratch dirs were removed. */
  readonly recover: (live: ReadonlySet<number>) => Effect.Effect<number>
}
