/**
 * The chaos run's Firestore: the embedded emulator in a process of its own,
 * so it outlives every kernel the chaos test SIGKILLs (a kernel in
 * `embedded` mode would take its emulator down with it).
 *
 *   node --import tsx test/chaos/kernel/emulator.ts <projectId>
 *
 * Prints `EMULATOR 127.0.0.1:<port>` once it listens on loopback, then runs
 * until SIGTERM/SIGINT.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect } from "effect"
import { startEmbeddedEmulator } from "../../../kernel/firestore/embedded.ts"

const projectId = process.argv[2] ?? "lomi-chaos"

NodeRuntime.runMain(
  Effect.scoped(
    Effect.gen(function* () {
      const emulator = yield* startEmbeddedEmulator({ projectId })
      yield* Effect.sync(() => process.stdout.write(`EMULATOR ${emulator.host}\n`))
      return yield* Effect.never
    })
  )
)
