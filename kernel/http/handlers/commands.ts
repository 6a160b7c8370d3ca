/** Sending a command as the signed-in user; every command is audited by the bus. */
import { Effect, Option } from "effect"
import { CurrentUser, NotFound } from "../../../schemas/api.ts"
import type { CommandResult, OperatorCommand } from "../../../schemas/commands.ts"
import { CommandBus } from "../../commandBus.ts"
import { FirestorePort } from "../../ports/firestore.ts"
import { JobStore } from "../../store/jobs.ts"
import { DashboardReads } from "../../store/reads.ts"

export const execute = (command: OperatorCommand): Effect.Effect<CommandResult, never, CommandBus | CurrentUser> =>
  Effect.gen(function* () {
    const bus = yield* CommandBus
    const user = yield* CurrentUser
    return yield* bus.execute(user.name, command)
  })

export const requireRun = (run: number) =>
  Effect.flatMap(JobStore, (jobs) => jobs.byId(run)).pipe(
    Effect.flatMap(
      Option.match({
        onNone: () => Effect.fail(new NotFound({ message: `no run ${run}` })),
        onSome: (row) => Effect.succeed(row)
      })
    )
  )

export const requireRuns = (doc: string) =>
  Effect.flatMap(JobStore, (jobs) => jobs.newestForDoc(doc)).pipe(
    Effect.flatMap(
      Option.match({
        onNone: () => Effect.fail(new NotFound({ message: `no runs for document ${doc}` })),
        onSome: (row) => Effect.succeed(row)
      })
    )
  )

/** 404 only when Firestore says the report does not exist; a failed read is left to the command to report. */
export const requireReport = (doc: string) =>
  Effect.flatMap(FirestorePort, (port) => Effect.either(port.getReport(doc))).pipe(
    Effect.flatMap((read) =>
      read._tag === "Right" && read.right === undefined
        ? Effect.fail(new NotFound({ message: `report ${doc} does not exist in Firestore` }))
        : Effect.void
    )
  )

export const requireHold = (doc: string) =>
  Effect.flatMap(DashboardReads, (reads) => reads.holdsForDoc(doc)).pipe(
    Effect.flatMap((holds) =>
      holds.length === 0 ? Effect.fail(new NotFound({ message: `no manual hold for ${doc}` })) : Effect.void
    )
  )

/** Best effort over many documents, one after another; `ok` only when every one worked. */
export const bulk = <R>(docs: ReadonlyArray<string>, one: (doc: string) => Effect.Effect<CommandResult, never, R>) =>
  Effect.map(
    Effect.forEach(docs, (doc) => Effect.map(one(doc), (result) => ({ doc, ...result }))),
    (results) => {
      const done = results.filter((r) => r.ok).length
      return {
        ok: done === results.length,
        message: `${done} of ${results.length} done${done === results.length ? "" : `; ${results.length - done} refused`}`,
        results
      }
    }
  )
