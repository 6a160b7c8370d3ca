/**
 * `make -s replay FIXTURE=…`: prints the replay result as one JSON document.
 * A bad fixture prints one line on stderr, nothing on stdout, and exits 2.
 */
import { Effect, Either, Logger, LogLevel } from "effect"
import { readFileSync } from "node:fs"
import { decodeFixture } from "../../schemas/fixture.ts"
import { replay } from "./driver.ts"
import { serialise } from "./fixtures.ts"

const file = process.argv[2]
if (file === undefined || file === "") {
  process.stderr.write("usage: make -s replay FIXTURE=path/to/fixture.json\n")
  process.exit(2)
}

let text: string
try {
  text = readFileSync(file, "utf8")
} catch (e) {
  process.stderr.write(`cannot read fixture ${file}: ${(e as Error).message}\n`)
  process.exit(2)
}

const fixture = decodeFixture(text)
if (Either.isLeft(fixture)) {
  process.stderr.write(`${file}: ${fixture.left}\n`)
  process.exit(2)
}

const verbose = process.env.LOMI_REPLAY_VERBOSE === "1"
const program = replay(fixture.right).pipe(
  Effect.provide(Logger.replace(Logger.defaultLogger, Logger.prettyLogger({ stderr: true, colors: false }))),
  Logger.withMinimumLogLevel(verbose ? LogLevel.Debug : LogLevel.None)
)

Effect.runPromise(program).then(
  (result) => {
    process.stdout.write(serialise(result))
  },
  (error: unknown) => {
    process.stderr.write(`replay failed: ${String(error)}\n`)
    process.exit(1)
  }
)
