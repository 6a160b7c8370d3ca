/**
 * A firebase-admin app and its Firestore client as a scoped resource.
 *
 * Each acquisition gets its own app name, so a process can hold several at once
 * (the live port, the emulator's seeder, tests); the finalizer deletes the app,
 * which closes its gRPC channels so nothing keeps the process alive.
 *
 * A credentials file is read and checked here, before firebase-admin sees it,
 * so that a wrong path or a broken key fails start-up with one clear line
 * instead of surfacing later as a token error on every call.
 */
import { createPrivateKey } from "node:crypto"
import { readFile } from "node:fs/promises"
import { Effect, type Scope } from "effect"
import { type App, cert, deleteApp, initializeApp } from "firebase-admin/app"
import { type Firestore, getFirestore } from "firebase-admin/firestore"
import { FirestoreError } from "../ports/firestore.ts"
import { describeError } from "./errors.ts"

export interface AdminAppOptions {
  readonly projectId: string
  /** A service-account key file; omitted: application default credentials, or none against an emulator. */
  readonly credentialsFile?: string | undefined
}

let appCounter = 0

const initError = (message: string) => new FirestoreError({ operation: "init", message })

interface ServiceAccountKey {
  readonly projectId?: string
  readonly clientEmail: string
  readonly privateKey: string
}

const readServiceAccount = (file: string): Effect.Effect<ServiceAccountKey, FirestoreError> =>
  Effect.gen(function* () {
    const text = yield* Effect.tryPromise({
      try: () => readFile(file, "utf8"),
      catch: (cause) => initError(`cannot read Firestore credentials file ${file}: ${describeError(cause)}`)
    })
    const json: unknown = yield* Effect.try({
      try: () => JSON.parse(text),
      catch: () => initError(`Firestore credentials file ${file} is not valid JSON`)
    })
    const field = (name: string): string | undefined => {
      if (typeof json !== "object" || json === null) return undefined
      const value: unknown = Reflect.get(json, name)
      return typeof value === "string" && value.length > 0 ? value : undefined
    }
    const clientEmail = field("client_email")
    const privateKey = field("private_key")
    if (clientEmail === undefined || privateKey === undefined) {
      return yield* initError(`Firestore credentials file ${file} is not a service-account key (needs client_email and private_key)`)
    }
    yield* Effect.try({
      try: () => createPrivateKey(privateKey),
      catch: () => initError(`Firestore credentials file ${file} has a private_key that is not a valid PEM key`)
    })
    const projectId = field("project_id")
    return projectId === undefined ? { clientEmail, privateKey } : { projectId, clientEmail, privateKey }
  })

export const acquireFirestore = (options: AdminAppOptions): Effect.Effect<Firestore, FirestoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const key = options.credentialsFile === undefined ? undefined : yield* readServiceAccount(options.credentialsFile)
    const name = `lomi-firestore-${++appCounter}`
    const app = yield* Effect.acquireRelease(
      Effect.try({
        try: (): App =>
          initializeApp(
            {
              projectId: options.projectId,
              ...(key === undefined ? {} : { credential: cert(key) })
            },
            name
          ),
        catch: (cause) => initError(`cannot start firebase-admin for project ${options.projectId}: ${describeError(cause)}`)
      }),
      (app) =>
        Effect.tryPromise(() => deleteApp(app)).pipe(
          // A client stuck on an unreachable backend must not block shutdown.
          Effect.timeout("5 seconds"),
          Effect.catchAll((cause) => Effect.logWarning(`firebase-admin app ${name} did not close cleanly: ${describeError(cause)}`))
        )
    )
    return yield* Effect.try({
      try: () => {
        const db = getFirestore(app)
        db.settings({
          // Against an emulator no Google auth is involved, but gax would still ask the GCE
          // metadata server for the "universe domain": a network call and a warning on every
          // start. Naming the (default) universe skips that lookup.
          ...(process.env.FIRESTORE_EMULATOR_HOST !== undefined ? { universeDomain: "googleapis.com" } : {}),
          // gRPC's own reconnect backoff grows to two minutes while the backend is away, which
          // would hide Firestore's return from the outage probe; rule 12 wants it seen within 15 s.
          "grpc.initial_reconnect_backoff_ms": 500,
          "grpc.max_reconnect_backoff_ms": 3000
        })
        return db
      },
      catch: (cause) => initError(`cannot open Firestore for project ${options.projectId}: ${describeError(cause)}`)
    })
  })
