/**
 * The embedded Firestore emulator for `make run` and the integration tests.
 *
 * `@firestore-emulator/server` runs in process. We build its gRPC server
 * ourselves around one long-lived FirestoreState rather than use its
 * FirestoreServer class, for two reasons: that class binds 0.0.0.0 (we want
 * 127.0.0.1 only), and a grpc-js server cannot be bound again once shut down,
 * so stopping and restarting "the same emulator" needs a fresh server around
 * the old state, on the same port. That is what `stop` / `start` do; they let
 * tests and demos cut Firestore off and bring it back with its data intact.
 * The state's query listens send changes only, as Firestore does
 * (delta-listen.ts).
 *
 * Acquiring the emulator also points firebase-admin at it
 * (FIRESTORE_EMULATOR_HOST, restored on release) and writes the
 * emulator-host file (emulator-host.ts) so the demo-doc CLI can find it.
 */
import { mkdir, rm, writeFile } from "node:fs/promises"
import { dirname } from "node:path"
import { Server, ServerCredentials } from "@grpc/grpc-js"
import { Context, Effect, Layer, Schedule, type Scope } from "effect"
import type { StaticConfig } from "../../schemas/config.ts"
import { FirestoreError, FirestorePort } from "../ports/firestore.ts"
import { DeltaListenState } from "./delta-listen.ts"
import { acquireDocEditor } from "./doc-editor.ts"
import { emulatorHostFile, formatEmulatorHost } from "./emulator-host.ts"
import { EmulatorService } from "./emulator-service.ts"
import { describeError } from "./errors.ts"
import { makeLiveFirestore } from "./live.ts"
import { DEMO_SEED_DIR, loadSeed, writeSeed } from "./seed.ts"

export interface EmbeddedEmulatorOptions {
  /** The project the live client will address; the emulator keeps data per project. */
  readonly projectId: string
  /** Where to write the emulator-host file (see emulator-host.ts); removed again on release. */
  readonly hostFile?: string | undefined
  /** A directory with reports.json and patients.json to load at first start; omitted: start empty. */
  readonly seedDir?: string | undefined
}

export interface EmbeddedEmulator {
  /** `127.0.0.1:<port>`, the value of FIRESTORE_EMULATOR_HOST. */
  readonly host: string
  readonly port: number
  /** Cuts every connection and stops listening; the documents are kept. */
  readonly stop: Effect.Effect<void>
  /** Listens again on the same port with the same documents; no-op if running. */
  readonly start: Effect.Effect<void, FirestoreError>
}

export class EmbeddedFirestore extends Context.Tag("kernel/EmbeddedFirestore")<EmbeddedFirestore, EmbeddedEmulator>() {}

const emulatorError = (message: string) => new FirestoreError({ operation: "emulator", message })

const bind = (server: Server, port: number): Effect.Effect<number, FirestoreError> =>
  Effect.async<number, FirestoreError>((resume) => {
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error, boundPort) => {
      resume(
        error === null
          ? Effect.succeed(boundPort)
          : Effect.fail(emulatorError(`cannot listen on 127.0.0.1:${port}: ${describeError(error)}`))
      )
    })
  })

const setEmulatorEnv = (host: string): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const previous = process.env.FIRESTORE_EMULATOR_HOST
      process.env.FIRESTORE_EMULATOR_HOST = host
      return previous
    }),
    (previous) =>
      Effect.sync(() => {
        if (previous === undefined) delete process.env.FIRESTORE_EMULATOR_HOST
        else process.env.FIRESTORE_EMULATOR_HOST = previous
      })
  )

const publishHostFile = (file: string, host: string, projectId: string): Effect.Effect<void, FirestoreError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        await mkdir(dirname(file), { recursive: true })
        await writeFile(file, formatEmulatorHost(host, projectId), "utf8")
      },
      catch: (cause) => emulatorError(`cannot write ${file}: ${describeError(cause)}`)
    }),
    () => Effect.promise(() => rm(file, { force: true }))
  )

export const startEmbeddedEmulator = (
  options: EmbeddedEmulatorOptions
): Effect.Effect<EmbeddedEmulator, FirestoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const clock = yield* Effect.clock
    const now = () => new Date(clock.unsafeCurrentTimeMillis())
    const state = new DeltaListenState(now)
    let running: Server | undefined

    const listen = (port: number) =>
      Effect.suspend(() => {
        const server = new Server()
        server.addService(EmulatorService.definition, new EmulatorService(state, now))
        return bind(server, port).pipe(
          Effect.tap(() => Effect.sync(() => void (running = server))),
          Effect.tapError(() => Effect.sync(() => server.forceShutdown()))
        )
      })

    const stop = Effect.sync(() => {
      running?.forceShutdown()
      running = undefined
    })

    const port = yield* Effect.acquireRelease(listen(0), () => stop)
    const host = `127.0.0.1:${port}`

    // The old listening socket can take a moment to be released after a stop.
    const start = Effect.suspend(() => (running === undefined ? listen(port) : Effect.void)).pipe(
      Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.intersect(Schedule.recurs(40)))),
      Effect.asVoid
    )

    yield* setEmulatorEnv(host)
    if (options.seedDir !== undefined) {
      const seed = yield* loadSeed(options.seedDir)
      yield* Effect.scoped(Effect.flatMap(acquireDocEditor({ projectId: options.projectId }), (editor) => writeSeed(editor, seed)))
    }
    if (options.hostFile !== undefined) yield* publishHostFile(options.hostFile, host, options.projectId)
    yield* Effect.logInfo(`embedded Firestore emulator listening on ${host} (project ${options.projectId})`)

    return { host, port, stop, start }
  })

export const embeddedEmulatorLayer = (options: EmbeddedEmulatorOptions): Layer.Layer<EmbeddedFirestore, FirestoreError> =>
  Layer.scoped(EmbeddedFirestore, startEmbeddedEmulator(options))

/**
 * `firestore.mode == "embedded"`: the emulator seeded with the demo documents,
 * its host in `<dataDir>/emulator-host`, and the live port talking to it.
 * The emulator is acquired first so the port's client sees FIRESTORE_EMULATOR_HOST.
 */
export const embeddedFirestoreLayer = (
  config: StaticConfig,
  seedDir: string = DEMO_SEED_DIR
): Layer.Layer<FirestorePort | EmbeddedFirestore, FirestoreError> => {
  const emulator = embeddedEmulatorLayer({
    projectId: config.firestore.projectId,
    hostFile: emulatorHostFile(config.dataDir),
    seedDir
  })
  const port = Layer.scoped(
    FirestorePort,
    // Credentials are meaningless against the emulator; do not make the demo depend on a key file.
    makeLiveFirestore({ projectId: config.firestore.projectId, connectivityTimeoutMs: config.firestore.connectivityTimeoutMs })
  )
  return Layer.provideMerge(port, emulator)
}
