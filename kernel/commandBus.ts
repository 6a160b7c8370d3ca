/**
 * The command bus: every operator command, from the dashboard or a replay,
 * is written to command_log before it acts and again with its result, then
 * routed to the actor that owns it.
 */
import { Effect } from "effect"
import type { CommandResult, OperatorCommand } from "../schemas/commands.ts"
import { EventBus } from "./events.ts"
import { ask, HoldMailbox, JobCommandMailbox, KillMailbox } from "./mailboxes.ts"
import { CommandLog } from "./store/commandLog.ts"

export class CommandBus extends Effect.Service<CommandBus>()("kernel/CommandBus", {
  effect: Effect.gen(function* () {
    const log = yield* CommandLog
    const events = yield* EventBus
    const kill = yield* KillMailbox
    const jobs = yield* JobCommandMailbox
    const holds = yield* HoldMailbox

    const ownerOf = (command: OperatorCommand) => {
      switch (command._tag) {
        case "kill":
          return kill
        case "manual_add":
        case "release":
        case "cancel_hold":
          return holds
        default:
          return jobs
      }
    }

    const execute = (user: string, command: OperatorCommand): Effect.Effect<CommandResult> =>
      Effect.gen(function* () {
        const { _tag: name, ...args } = command
        const id = yield* log.start(user, name, args)
        const result = yield* ask(ownerOf(command), command, user)
        yield* log.finish(id, result.ok ? "ok" : "refused", result.message)
        yield* events.publish(
          result.ok ? { _tag: "command", name, ok: true } : { _tag: "command", name, ok: false, reason: result.message }
        )
        return result
      }).pipe(Effect.annotateLogs({ command: command._tag, user }))

    return { execute }
  })
}) {}
