/**
 * The kernel's Executor as a client of the execution host
 * (`<dataDir>/exechost.sock`, protocol in schemas/exechost.ts).
 *
 * - At start-up, if no host answers within a short dial, the client starts
 *   one itself, detached in its own session (it outlives the kernel), and
 *   waits for it. While the socket stays silent for `respawnAfter`, it starts
 *   another (the host holds a per-data-dir lock, so two never run). Under
 *   systemd the host is its own unit and `spawnHost: false`.
 * - Every call has a timeout; with no connection it fails at once with
 *   ExecutorUnavailable (the kernel retries). Start is idempotent by run id
 *   in the host, so a start retried after a timeout never runs twice.
 * - Exits come as events; the host repeats every unacknowledged one on each
 *   new connection, so exits that ended while the kernel was down or
 *   disconnected are reported on reconnect. `awaitExit` asks Status once
 *   (the exit may be older than this connection) and then waits for the event.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Clock, Context, Deferred, Duration, Effect, Layer, Schema, type Scope } from "effect"
import { StaticConfig } from "../../schemas/config.ts"
import { Acknowledge, Kill, Live, Start, Stats, Status, StopAll, type HostEvent } from "../../schemas/exechost.ts"
import type { ProcessStats } from "../../schemas/gauges.ts"
import { connect, IpcUnavailable } from "../ipc/client.ts"
import { dial } from "../ipc/dial.ts"
import { Executor, ExecutorUnavailable, SpawnError, type ExecutorShape, type RunStatus } from "../ports/executor.ts"
import { HostProtocol, hostSocket } from "./protocol.ts"
import { runsRoot } from "./records.ts"
import { HOST_V8_FLAGS } from "./v8flags.ts"

type Ended = Extract<RunStatus, { _tag: "Exited" | "Lost" }>

export interface ExecHostClientOptions {
  readonly dataDir: string
  /** SANDBOX_ENABLED for the runs this kernel starts. */
  readonly sandbox: boolean
  /** The command line that starts a host (no config argument; the client adds it), or false to never start one. */
  readonly spawnHost: ReadonlyArray<string> | false
  /** Config file the host reads. */
  readonly configFile: string
  readonly callTimeout?: Duration.DurationInput
  /** How long start-up waits for a host. Default 30 s. */
  readonly startupTimeout?: Duration.DurationInput
  /** A host silent this long is started again (when `spawnHost`). Default 3 s. */
  readonly respawnAfter?: Duration.DurationInput
}

/**
 * The execution host's own gauges, for /metrics. Present only where the
 * executor is the host's client (the Slurm executor has no host): read it
 * with `Effect.serviceOption`.
 */
export class HostGauges extends Context.Tag("kernel/exechost/HostGauges")<
  HostGauges,
  { readonly sample: Effect.Effect<ProcessStats, ExecutorUnavailable> }
>() {}

/** Gauges are for a scrape: a host slower than this is left out of it (within the dashboard's 2 s for the kernel's whole answer). */
const STATS_TIMEOUT = Duration.seconds(1)

const unavailable = (e: IpcUnavailable) => new ExecutorUnavailable({ message: `execution host: ${e.message}` })

/** Repository root, from this module's source location (kernel/exechost/client.ts). */
const repoRoot = () => path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")

/**
 * How to start a host from this kernel: the compiled bundle when the kernel
 * itself runs compiled (dist/), otherwise the TypeScript entry through tsx.
 */
export const defaultHostCommand = (): ReadonlyArray<string> => {
  const root = repoRoot()
  const bundle = path.join(root, "dist", "kernel", "exechost", "main.js")
  const compiled = (process.argv[1] ?? "").includes(`${path.sep}dist${path.sep}`)
  return compiled && fs.existsSync(bundle)
    ? [process.execPath, ...HOST_V8_FLAGS, bundle]
    : [process.execPath, ...HOST_V8_FLAGS, "--import", "tsx", path.join(root, "kernel", "exechost", "main.ts")]
}

/** Starts a host detached in its own session, its output appended to `<dataDir>/exechost.log`. */
const launchHost = (command: ReadonlyArray<string>, configFile: string, dataDir: string) =>
  Effect.try(() => {
    fs.mkdirSync(dataDir, { recursive: true })
    const log = fs.openSync(path.join(dataDir, "exechost.log"), "a")
    const [exe, ...args] = command
    if (exe === undefined) return
    const child = spawn(exe, [...args, configFile], { detached: true, stdio: ["ignore", log, log], cwd: repoRoot() })
    child.on("error", () => undefined)
    child.unref()
    fs.closeSync(log)
  }).pipe(
    Effect.tap(() => Effect.log("started an execution host")),
    Effect.catchAll((e) => Effect.logError(`cannot start an execution host: ${String(e)}`))
  )

export interface ExecHostExecutor extends ExecutorShape {
  /** The host's own gauges (the Stats request). */
  readonly stats: Effect.Effect<ProcessStats, ExecutorUnavailable>
}

export const makeExecHostExecutor = (options: ExecHostClientOptions): Effect.Effect<ExecHostExecutor, ExecutorUnavailable, Scope.Scope> =>
  Effect.gen(function* () {
    const socketPath = hostSocket(options.dataDir)
    const ended = new Map<number, Ended>()
    const waiters = new Map<number, Deferred.Deferred<Ended>>()
    const settle = (runId: number, result: Ended) => {
      ended.set(runId, result)
      const waiter = waiters.get(runId)
      if (waiter !== undefined) {
        waiters.delete(runId)
        Deferred.unsafeDone(waiter, Effect.succeed(result))
      }
    }
    const onEvent = (event: HostEvent) =>
      Effect.sync(() => {
        if (event._tag === "Exited") settle(event.runId, { _tag: "Exited", exit: event.exit })
        else if (event._tag === "Lost") settle(event.runId, { _tag: "Lost", message: event.message })
      })

    /** Runs started over the current connection (forgotten when it drops, when events may have been missed). */
    const startedHere = new Set<number>()
    const client = yield* connect({
      socketPath,
      protocol: HostProtocol,
      onEvent,
      onConnect: Effect.sync(() => startedHere.clear()),
      dialTimeout: "500 millis",
      callTimeout: options.callTimeout ?? Duration.seconds(30)
    })

    // Waiting runs the host no longer knows (a record removed by hand) would wait forever: ask after each dial.
    const recheckWaiters = Effect.gen(function* () {
      const ids = [...waiters.keys()]
      if (ids.length === 0) return
      const statuses = yield* Effect.either(client.call(new Status({ runIds: ids })))
      if (statuses._tag === "Left") return
      for (const [id, status] of statuses.right) {
        if (status._tag === "Exited" || status._tag === "Lost") settle(id, status)
        else if (status._tag === "Unknown") settle(id, { _tag: "Lost", message: `the execution host has no record of run ${id}` })
      }
    })

    if (options.spawnHost !== false) {
      const command = options.spawnHost
      const silentFor = Duration.toMillis(Duration.decode(options.respawnAfter ?? Duration.seconds(3)))
      if (!(yield* dial(socketPath, 500))) yield* launchHost(command, options.configFile, options.dataDir)
      yield* Effect.forkScoped(
        Effect.gen(function* () {
          let lastSeen = yield* Clock.currentTimeMillis
          let wasConnected = true
          for (;;) {
            yield* Effect.sleep("500 millis")
            const now = yield* Clock.currentTimeMillis
            const up = yield* client.isConnected
            if (up && !wasConnected) yield* recheckWaiters
            wasConnected = up
            if (up) lastSeen = now
            else if (now - lastSeen >= silentFor) {
              lastSeen = now
              yield* launchHost(command, options.configFile, options.dataDir)
            }
          }
        })
      )
    }
    yield* client
      .awaitConnected(options.startupTimeout ?? Duration.seconds(30))
      .pipe(Effect.mapError((e) => new ExecutorUnavailable({ message: `no execution host answers on ${socketPath}: ${e.message}` })))

    const awaitExit = (runId: number): Effect.Effect<Ended, ExecutorUnavailable> =>
      Effect.gen(function* () {
        const known = ended.get(runId)
        if (known !== undefined) return known
        let waiter = waiters.get(runId)
        if (waiter === undefined) {
          waiter = yield* Deferred.make<Ended>()
          waiters.set(runId, waiter)
        }
        // A run this connection started needs no question: its exit event cannot be missed while connected.
        if (startedHere.has(runId)) return yield* Deferred.await(waiter)
        const statuses = yield* client.call(new Status({ runIds: [runId] })).pipe(Effect.mapError(unavailable))
        const status = new Map(statuses).get(runId)
        if (status?._tag === "Exited" || status?._tag === "Lost") settle(runId, status)
        else if (status === undefined || status._tag === "Unknown") {
          settle(runId, { _tag: "Lost", message: `the execution host has no record of run ${runId}` })
        }
        return yield* Deferred.await(waiter)
      })

    return {
      start: (spec) =>
        client.call(new Start({ spec, sandbox: options.sandbox })).pipe(
          Effect.tap(() => Effect.sync(() => startedHere.add(spec.runId))),
          Effect.catchTags({
            StartRefused: (e) => Effect.fail(new SpawnError({ message: e.message })),
            IpcUnavailable: (e) => Effect.fail(unavailable(e))
          })
        ),
      awaitExit,
      kill: (runId, grace) =>
        client
          .call(new Kill({ runId, graceMs: Duration.toMillis(grace) }), Duration.sum(grace, Duration.seconds(30)))
          .pipe(Effect.mapError(unavailable)),
      status: (runIds) =>
        client.call(new Status({ runIds: [...runIds] })).pipe(
          Effect.map((pairs) => new Map(pairs)),
          Effect.mapError(unavailable)
        ),
      acknowledge: (runId) =>
        client.call(new Acknowledge({ runId })).pipe(
          Effect.tap(() =>
            Effect.sync(() => {
              ended.delete(runId)
              startedHere.delete(runId)
            })
          ),
          Effect.mapError(unavailable)
        ),
      live: client.call(new Live({})).pipe(Effect.mapError(unavailable)),
      stats: client.call(new Stats({}), STATS_TIMEOUT).pipe(Effect.mapError(unavailable)),
      // Every run the host has not been told to forget has its directory under the shared data dir; the host says which ended.
      unacknowledged: Effect.gen(function* () {
        const root = runsRoot(path.resolve(options.dataDir))
        const ids = yield* Effect.sync(() => (fs.existsSync(root) ? fs.readdirSync(root) : []).filter((n) => /^\d+$/.test(n)).map(Number))
        if (ids.length === 0) return []
        const statuses = yield* client.call(new Status({ runIds: ids })).pipe(Effect.mapError(unavailable))
        return statuses.filter(([, status]) => status._tag === "Exited" || status._tag === "Lost").map(([id]) => id)
      })
    } satisfies ExecHostExecutor
  })

/** Ends every pipeline the host follows (the explicit "stop all pipelines"); answers how many. */
export const stopAllPipelines = (dataDir: string, grace: Duration.Duration) =>
  Effect.scoped(
    Effect.gen(function* () {
      const client = yield* connect({ socketPath: hostSocket(dataDir), protocol: HostProtocol, onEvent: () => Effect.void })
      yield* client.awaitConnected("5 seconds")
      return yield* client.call(new StopAll({ graceMs: Duration.toMillis(grace) }), Duration.sum(grace, Duration.seconds(60)))
    })
  )

/**
 * The production Executor: a client of the execution host, which the client
 * starts when none runs. The host reads the kernel's own configuration,
 * written to `<dataDir>/exechost/config.json` (owner-only). Beside the
 * Executor it provides HostGauges.
 */
export const ExecHostExecutorLive = (
  config: StaticConfig,
  sandbox: boolean,
  overrides: Partial<Omit<ExecHostClientOptions, "dataDir" | "sandbox">> = {}
): Layer.Layer<Executor | HostGauges, ExecutorUnavailable> =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const configFile = overrides.configFile ?? path.join(config.dataDir, "exechost", "config.json")
      if (overrides.configFile === undefined) {
        const encoded = yield* Schema.encode(StaticConfig)(config).pipe(Effect.orDie)
        yield* Effect.sync(() => {
          fs.mkdirSync(path.dirname(configFile), { recursive: true })
          fs.writeFileSync(`${configFile}.tmp`, JSON.stringify(encoded, null, 2), { mode: 0o600 })
          fs.renameSync(`${configFile}.tmp`, configFile)
        })
      }
      const executor = yield* makeExecHostExecutor({
        dataDir: config.dataDir,
        sandbox,
        spawnHost: overrides.spawnHost ?? (process.env.LOMI_EXECHOST_EXTERNAL === "1" ? false : defaultHostCommand()),
        configFile,
        ...(overrides.callTimeout === undefined ? {} : { callTimeout: overrides.callTimeout }),
        ...(overrides.startupTimeout === undefined ? {} : { startupTimeout: overrides.startupTimeout }),
        ...(overrides.respawnAfter === undefined ? {} : { respawnAfter: overrides.respawnAfter })
      })
      return Context.make(Executor, executor).pipe(Context.add(HostGauges, { sample: executor.stats }))
    })
  )
