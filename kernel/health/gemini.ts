/**
 * Gemini health: is the Omni-Health pipeline's API key accepted, and which
 * model would it use? Lists the models and picks the first one that supports
 * `generateContent`, so no model name (which Google deprecates) is hard-coded.
 *
 * The key is read from the pipeline's own `.env`, travels only in the query
 * string, and is scrubbed from every detail this check returns.
 */
import { readFile } from "node:fs/promises"
import { Effect, Either, Schema } from "effect"
import type { HealthResult } from "../../schemas/health.ts"
import { type HealthConfig, ProbeFailure, type ProbeSuccess, runCheck } from "./check.ts"
import { parseEnvFile } from "./env-file.ts"
import { httpGet, joinUrl, redact, snippet } from "./http.ts"

/** Looked up in this order. */
export const GEMINI_KEY_NAMES = ["GEMINI_API_KEY", "GOOGLE_API_KEY"] as const

/** A page cap, so a misbehaving server cannot keep the check paging forever. */
const MAX_PAGES = 10

const GeminiModel = Schema.Struct({
  name: Schema.String,
  supportedGenerationMethods: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
})

const ModelList = Schema.Struct({
  models: Schema.optionalWith(Schema.Array(GeminiModel), { default: () => [] }),
  nextPageToken: Schema.optional(Schema.String)
})

const decodeModelList = Schema.decodeUnknownEither(Schema.parseJson(ModelList))

const GoogleError = Schema.Struct({ error: Schema.Struct({ message: Schema.String }) })
const decodeGoogleError = Schema.decodeUnknownEither(Schema.parseJson(GoogleError))

const readApiKey = (envFile: string | undefined): Effect.Effect<string, ProbeFailure> => {
  if (envFile === undefined || envFile === "") {
    return Effect.fail(new ProbeFailure({ detail: "no Omni-Health .env configured (health.geminiEnvFile)" }))
  }
  return Effect.tryPromise({
    try: () => readFile(envFile, "utf8"),
    catch: (error) => {
      const code =
        typeof error === "object" && error !== null ? (error as { readonly code?: unknown }).code : undefined
      return new ProbeFailure({
        detail:
          code === "ENOENT"
            ? `env file not found: ${envFile}`
            : `cannot read env file ${envFile}: ${error instanceof Error ? error.message : String(error)}`
      })
    }
  }).pipe(
    Effect.flatMap((text) => {
      const env = parseEnvFile(text)
      const key = GEMINI_KEY_NAMES.map((name) => env[name]).find((value) => value !== undefined && value !== "")
      return key === undefined
        ? Effect.fail(new ProbeFailure({ detail: `no ${GEMINI_KEY_NAMES.join(" or ")} in ${envFile}` }))
        : Effect.succeed(key)
    })
  )
}

const httpErrorDetail = (statusCode: number, body: string, key: string): string => {
  const google = decodeGoogleError(body)
  const reason = Either.isRight(google) ? google.right.error.message : snippet(body)
  return redact(`Gemini models list answered HTTP ${statusCode}${reason !== "" ? `: ${reason}` : ""}`, [key])
}

/** The probe alone (no timing); `checkGemini` is what the dashboard calls. */
export const probeGemini = (config: HealthConfig): Effect.Effect<ProbeSuccess, ProbeFailure> =>
  Effect.gen(function* () {
    const key = yield* readApiKey(config.geminiEnvFile)
    let pageToken: string | undefined = undefined
    let listed = 0
    for (let page = 0; page < MAX_PAGES; page++) {
      const url =
        joinUrl(config.geminiBaseUrl, `/v1beta/models?key=${encodeURIComponent(key)}`) +
        (pageToken !== undefined ? `&pageToken=${encodeURIComponent(pageToken)}` : "")
      const response = yield* httpGet(url, { timeoutMs: config.timeoutMs, secrets: [key] }).pipe(
        Effect.mapError((e) => new ProbeFailure({ detail: `Gemini models list: ${e.detail}` }))
      )
      if (response.statusCode < 200 || response.statusCode >= 300) {
        return yield* new ProbeFailure({ detail: httpErrorDetail(response.statusCode, response.body, key) })
      }
      const decoded = decodeModelList(response.body)
      if (Either.isLeft(decoded)) {
        return yield* new ProbeFailure({ detail: "Gemini models list: response is not a model list" })
      }
      listed += decoded.right.models.length
      const model = decoded.right.models.find((m) => m.supportedGenerationMethods.includes("generateContent"))
      if (model !== undefined) {
        const name = model.name.replace(/^models\//, "")
        return { detail: `API key accepted; using ${name} (first generateContent model)`, model: name }
      }
      pageToken = decoded.right.nextPageToken
      if (pageToken === undefined || pageToken === "") break
    }
    return yield* new ProbeFailure({ detail: `no model supporting generateContent among ${listed} listed` })
  })

export const checkGemini = (config: HealthConfig): Effect.Effect<HealthResult> => runCheck("gemini", probeGemini(config))
