/**
 * Slurm health (only when `executor.kind` is `slurm`): the controller answers
 * `scontrol ping` within the client timeout, and the configured partition is
 * up with at least one node that can take jobs.
 */
import { Effect } from "effect"
import type { HealthResult } from "../../schemas/health.ts"
import { makeSlurmClient, failureLine } from "../process/slurm/client.ts"
import type { SlurmConfig } from "../process/slurm/executor.ts"
import { ProbeFailure, type ProbeSuccess, runCheck } from "./check.ts"

/** Node states in which a node takes no new job. */
const unusable = /^(down|drain|drained|draining|fail|failing|future|maint|unk|not_responding|power)/i

export const probeSlurm = (slurm: SlurmConfig): Effect.Effect<ProbeSuccess, ProbeFailure> =>
  Effect.gen(function* () {
    const client = makeSlurmClient(slurm)
    const ping = yield* client.run("scontrol", ["ping"])
    if (ping.code !== 0 || !/\bUP\b/.test(ping.stdout)) {
      return yield* new ProbeFailure({ detail: `Slurm controller not answering: ${ping.stdout.trim() || failureLine("scontrol", ping)}` })
    }
    const info = yield* client.run("sinfo", ["-h", "-p", slurm.partition, "-o", "%a|%D|%T"])
    if (info.code !== 0) return yield* new ProbeFailure({ detail: failureLine("sinfo", info) })
    const rows = info.stdout.split("\n").map((l) => l.trim().split("|")).filter((r) => r.length === 3)
    if (rows.length === 0) return yield* new ProbeFailure({ detail: `Slurm partition ${slurm.partition} not found` })
    if (rows.every(([avail]) => avail !== "up")) {
      return yield* new ProbeFailure({ detail: `Slurm partition ${slurm.partition} is ${rows[0]?.[0] ?? "down"}` })
    }
    const usable = rows.filter(([, , state]) => !unusable.test(state ?? "")).reduce((n, [, count]) => n + Number(count), 0)
    const summary = rows.map(([, count, state]) => `${count} ${state}`).join(", ")
    if (usable === 0) return yield* new ProbeFailure({ detail: `Slurm partition ${slurm.partition}: no usable node (${summary})` })
    return { detail: `controller up; partition ${slurm.partition}: ${summary}` }
  }).pipe(Effect.catchTag("ExecutorUnavailable", (e) => Effect.fail(new ProbeFailure({ detail: e.message }))))

export const checkSlurm = (slurm: SlurmConfig): Effect.Effect<HealthResult> => runCheck("slurm", probeSlurm(slurm))
