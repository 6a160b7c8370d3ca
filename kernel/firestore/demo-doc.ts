/**
 * Edits demo documents in the running embedded emulator (`make run` with
 * `firestore.mode = "embedded"`), playing the hospital's side of the demo:
 *
 *   npx tsx kernel/firestore/demo-doc.ts [--data-dir DIR] [--patients] set|patch|delete|get <id> [json]
 *
 * It finds the emulator through `<dataDir>/emulator-host` (host on the first
 * line, project on the second), so it can only ever reach the emulator, never
 * a real project. dataDir: `--data-dir`, else env LOMI_DATA_DIR, else `.data`.
 */
import { readFile } from "node:fs/promises"
import { Console, Data, Effect } from "effect"
import type { ReportData } from "../../schemas/report.ts"
import { type Collection, acquireDocEditor } from "./doc-editor.ts"
import { emulatorHostFile, parseEmulatorHost } from "./emulator-host.ts"
import { describeError } from "./errors.ts"

const USAGE =
  "usage: demo-doc [--data-dir DIR] [--patients] set|patch|delete|get <id> [json]\n" +
  "  set <id> <json>    create or overwrite reports/<id>\n" +
  "  patch <id> <json>  merge fields into reports/<id>\n" +
  "  delete <id>        delete reports/<id>\n" +
  "  get <id>           print reports/<id>\n" +
  "  --patients         act on patients/<id> instead\n" +
  'example: demo-doc patch demo-epi-01 \'{"status":"Data Ready"}\''

class CliError extends Data.TaggedError("CliError")<{ readonly message: string }> {}
const cliError = (message: string) => new CliError({ message })

type Command =
  | { readonly op: "set" | "patch"; readonly id: string; readonly data: ReportData }
  | { readonly op: "delete" | "get"; readonly id: string }

interface Invocation {
  readonly dataDir: string
  readonly collection: Collection
  readonly command: Command
}

const parseJsonObject = (text: string): Effect.Effect<ReportData, CliError> =>
  Effect.try({ try: (): unknown => JSON.parse(text), catch: () => cliError(`not valid JSON: ${text.length > 120 ? `${text.slice(0, 120)}…` : text}`) }).pipe(
    Effect.filterOrFail(
      (value): value is ReportData => typeof value === "object" && value !== null && !Array.isArray(value),
      () => cliError("the document must be a JSON object")
    )
  )

const parseArgs = (argv: ReadonlyArray<string>): Effect.Effect<Invocation, CliError> =>
  Effect.gen(function* () {
    let dataDir = process.env.LOMI_DATA_DIR ?? ".data"
    let collection: Collection = "reports"
    const rest: Array<string> = []
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]
      if (arg === "--data-dir") {
        const value = argv[++i]
        if (value === undefined) return yield* cliError("--data-dir needs a directory")
        dataDir = value
      } else if (arg === "--patients") collection = "patients"
      else if (arg !== undefined) rest.push(arg)
    }
    const [op, id, json] = rest
    if (id === undefined || id === "") return yield* cliError(USAGE)
    switch (op) {
      case "set":
      case "patch": {
        if (json === undefined) return yield* cliError(`${op} needs a JSON object\n${USAGE}`)
        return { dataDir, collection, command: { op, id, data: yield* parseJsonObject(json) } }
      }
      case "delete":
      case "get":
        return { dataDir, collection, command: { op, id } }
      default:
        return yield* cliError(USAGE)
    }
  })

const readEmulatorHost = (dataDir: string) =>
  Effect.gen(function* () {
    const file = emulatorHostFile(dataDir)
    const text = yield* Effect.tryPromise({
      try: () => readFile(file, "utf8"),
      catch: () => cliError(`no embedded emulator found: cannot read ${file} (is \`make run\` running with firestore.mode "embedded"?)`)
    })
    const found = parseEmulatorHost(text)
    if (found === undefined) return yield* cliError(`${file} should hold the emulator host and the project id, one per line`)
    return found
  })

/**
 * `make demo-doc ARGS='set demo-x {"status":"Data Ready"}'` hands ARGS over
 * untouched in LOMI_DEMO_DOC_ARGS (`--args-from-env`): words up to the JSON,
 * then the JSON as written, spaces and quotes included (a pair of quotes
 * around it is dropped).
 */
export const splitArgsText = (text: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  let rest = text.trim()
  while (rest !== "") {
    if (rest.startsWith("{") || rest.startsWith("'{") || rest.startsWith('"{')) {
      const quoted = /^(['"])([\s\S]*)\1$/.exec(rest)
      out.push(quoted?.[2] ?? rest)
      break
    }
    const word = /^\S+/.exec(rest)?.[0] ?? rest
    out.push(word)
    rest = rest.slice(word.length).trimStart()
  }
  return out
}

const commandLine = (argv: ReadonlyArray<string>): ReadonlyArray<string> =>
  argv.includes("--args-from-env")
    ? [...argv.filter((a) => a !== "--args-from-env"), ...splitArgsText(process.env.LOMI_DEMO_DOC_ARGS ?? "")]
    : argv

const program = Effect.gen(function* () {
  const { dataDir, collection, command } = yield* parseArgs(commandLine(process.argv.slice(2)))
  const { host, projectId } = yield* readEmulatorHost(dataDir)
  // firebase-admin reads this when the client is created: all traffic goes to the emulator.
  process.env.FIRESTORE_EMULATOR_HOST = host
  const editor = yield* acquireDocEditor({ projectId })
  const path = `${collection}/${command.id}`
  switch (command.op) {
    case "set":
      yield* editor.set(collection, command.id, command.data)
      break
    case "patch":
      yield* editor.patch(collection, command.id, command.data)
      break
    case "delete":
      yield* editor.delete(collection, command.id)
      yield* Console.log(`${path} deleted`)
      return
    case "get":
      break
  }
  const data = yield* editor.get(collection, command.id)
  yield* Console.log(data === undefined ? `${path} does not exist` : `${path} ${JSON.stringify(data)}`)
}).pipe(
  Effect.scoped,
  // One readable line for the operator, not a stack trace.
  Effect.catchAll((error) =>
    Console.error(error instanceof CliError ? error.message : `${error.operation}: ${describeError(error)}`).pipe(
      Effect.zipRight(Effect.sync(() => void (process.exitCode = 1)))
    )
  )
)

// A plain run, not NodeRuntime.runMain: a one-shot command needs no signal handling, and this keeps start-up quick.
void Effect.runPromise(program)
