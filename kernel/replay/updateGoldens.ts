/** `make replay-update`: regenerates every golden file from its fixture, deliberately. */
import { Effect, Either, Logger, LogLevel } from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import { decodeFixture } from "../../schemas/fixture.ts"
import { replay } from "./driver.ts"
import { fixtureFiles, goldenFileFor, serialise } from "./fixtures.ts"

const program = Effect.gen(function* () {
  for (const file of fixtureFiles()) {
    const fixture = decodeFixture(readFileSync(file, "utf8"))
    if (Either.isLeft(fixture)) return yield* Effect.dieMessage(`${file}: ${fixture.left}`)
    const result = yield* replay(fixture.right)
    writeFileSync(goldenFileFor(file), serialise(result))
    process.stderr.write(`updated ${goldenFileFor(file)}\n`)
  }
}).pipe(Logger.withMinimumLogLevel(LogLevel.None))

Effect.runPromise(program).catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`)
  process.exit(1)
})
