/** The static configuration file (JSON). Unknown keys are refused so a typo never goes unnoticed. */
import { Schema } from "effect"

const Recipients = Schema.Array(Schema.String)
const Port = Schema.Int.pipe(Schema.between(0, 65535))

const PositiveInt = Schema.Int.pipe(Schema.positive())

export const ServiceLimits = Schema.Struct({
  maxProcesses: Schema.optional(PositiveInt),
  memoryMiB: Schema.optional(PositiveInt),
  timeLimitSeconds: Schema.optional(PositiveInt),
  scratchDiskMiB: Schema.optional(PositiveInt),
  network: Schema.optional(Schema.Boolean)
})
export type ServiceLimits = typeof ServiceLimits.Type

export const ServiceConfig = Schema.Struct({
  /** Bash script run as `bash <script> <docId> <patientId> <service>`. */
  script: Schema.String,
  /** Extra environment for the script. */
  env: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) }),
  /** Sandbox limits per run of this service; unset fields take the defaults (kernel/process/sandbox/limits.ts). */
  limits: Schema.optional(ServiceLimits)
})
export type ServiceConfig = typeof ServiceConfig.Type

export const UserConfig = Schema.Struct({
  name: Schema.String,
  role: Schema.Literal("viewer", "operator", "admin"),
  /** `scrypt:<salt-hex>:<hash-hex>` */
  passwordHash: Schema.String
})

/** Resources one Slurm job of a service asks for. */
export const SlurmServiceResources = Schema.Struct({
  cpus: Schema.Int.pipe(Schema.between(1, 1024)),
  memoryMiB: Schema.Int.pipe(Schema.between(1, 16_777_216)),
  timeLimitMinutes: Schema.Int.pipe(Schema.between(1, 525_600))
})
export type SlurmServiceResources = typeof SlurmServiceResources.Type

/**
 * Where pipelines run. `local`: the execution host on this server. `slurm`:
 * one batch job per attempt on an existing cluster; `stateDir` (default
 * `<dataDir>/slurm`) and `dataDir`'s logs must be on a filesystem the compute
 * nodes share, since the batch job writes its log and exit status there.
 */
export const ExecutorConfig = Schema.Union(
  Schema.Struct({ kind: Schema.Literal("local") }),
  Schema.Struct({
    kind: Schema.Literal("slurm"),
    partition: Schema.String,
    account: Schema.optional(Schema.String),
    services: Schema.Struct({
      "Gen-Decoder": SlurmServiceResources,
      "Epi-Insight": SlurmServiceResources,
      "Omni-Health": SlurmServiceResources
    }),
    /** Extra `sbatch` arguments, passed as they are (e.g. `["--qos=lab", "--constraint=ssd"]`). */
    sbatchOptions: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
    /** One batched `squeue` per interval for every followed job. */
    pollIntervalMs: Schema.optionalWith(Schema.Int.pipe(Schema.between(100, 600_000)), { default: () => 5000 }),
    /** Bound of every Slurm client call (they hang for minutes when the controller is down). */
    commandTimeoutMs: Schema.optionalWith(Schema.Int.pipe(Schema.between(100, 600_000)), { default: () => 10_000 }),
    /** Folder holding sbatch/squeue/scontrol/scancel; PATH when absent. */
    binDir: Schema.optional(Schema.String),
    /** Per-run records and exit files on the shared filesystem; `<dataDir>/slurm` when absent. */
    stateDir: Schema.optional(Schema.String),
    /** How a compute node runs one attempt; default: this install's tsx and `kernel/process/slurm/run-attempt.ts`. */
    runner: Schema.optional(Schema.Array(Schema.String))
  })
)
export type ExecutorConfig = typeof ExecutorConfig.Type

export const StaticConfig = Schema.Struct({
  /** Where the SQLite database and run logs live. */
  dataDir: Schema.String,
  /** IANA zone of the server, for the daily 03:00 cleanup. */
  timezone: Schema.optionalWith(Schema.String, { default: () => "UTC" }),
  firestore: Schema.Struct({
    /** `embedded`: start the demo emulator in process; `live`: real project (or FIRESTORE_EMULATOR_HOST). */
    mode: Schema.Literal("embedded", "live"),
    projectId: Schema.String,
    credentialsFile: Schema.optional(Schema.String),
    connectivityTimeoutMs: Schema.optionalWith(Schema.Number, { default: () => 5000 })
  }),
  services: Schema.Struct({
    "Gen-Decoder": ServiceConfig,
    "Epi-Insight": ServiceConfig,
    "Omni-Health": ServiceConfig
  }),
  paths: Schema.Struct({
    patientBaseDir: Schema.String,
    userDataDir: Schema.String,
    minicondaBase: Schema.optionalWith(Schema.String, { default: () => "" }),
    pipelinesRoot: Schema.String
  }),
  sandbox: Schema.Struct({
    scratchRoot: Schema.optionalWith(Schema.String, { default: () => "/var/tmp/lomi-scratch" }),
    bwrapPath: Schema.optionalWith(Schema.String, { default: () => "bwrap" }),
    cacheDir: Schema.optional(Schema.String),
    /** [repo, path relative to the repo] pairs that each run gets a private writable copy of. */
    repoWriteWhitelist: Schema.optionalWith(Schema.Array(Schema.Tuple(Schema.String, Schema.String)), {
      default: () => []
    })
  }),
  mail: Schema.Struct({
    host: Schema.String,
    port: Port,
    secure: Schema.optionalWith(Schema.Boolean, { default: () => false }),
    ignoreTLS: Schema.optionalWith(Schema.Boolean, { default: () => false }),
    user: Schema.optional(Schema.String),
    password: Schema.optional(Schema.String),
    from: Schema.String,
    dashboardUrl: Schema.optionalWith(Schema.String, { default: () => "http://127.0.0.1:8080" }),
    recipients: Schema.Struct({
      upload_reminder: Recipients,
      permanent_failure: Recipients,
      manual_add: Recipients
    })
  }),
  health: Schema.optionalWith(
    Schema.Struct({
      geminiBaseUrl: Schema.optionalWith(Schema.String, {
        default: () => "https://generativelanguage.googleapis.com"
      }),
      /** The Omni-Health pipeline's .env holding GEMINI_API_KEY. */
      geminiEnvFile: Schema.optional(Schema.String),
      ocrUrl: Schema.optionalWith(Schema.String, { default: () => "http://127.0.0.1:18000" }),
      ttlSeconds: Schema.optionalWith(Schema.Number, { default: () => 60 }),
      timeoutMs: Schema.optionalWith(Schema.Number, { default: () => 5000 })
    }),
    { default: () => ({ geminiBaseUrl: "https://generativelanguage.googleapis.com", ocrUrl: "http://127.0.0.1:18000", ttlSeconds: 60, timeoutMs: 5000 }) }
  ),
  /** Absent: `{ kind: "local" }`. */
  executor: Schema.optional(ExecutorConfig),
  http: Schema.optionalWith(
    Schema.Struct({
      host: Schema.optionalWith(Schema.String, { default: () => "127.0.0.1" }),
      port: Schema.optionalWith(Port, { default: () => 8080 }),
      users: Schema.optionalWith(Schema.Array(UserConfig), { default: () => [] })
    }),
    { default: () => ({ host: "127.0.0.1", port: 8080, users: [] }) }
  )
})
export type StaticConfig = typeof StaticConfig.Type
export type StaticConfigEncoded = typeof StaticConfig.Encoded
