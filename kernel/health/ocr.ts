/** OCR API health: `GET <ocrUrl>/health`, any 2xx within the timeout is healthy. */
import { Effect } from "effect"
import type { HealthResult } from "../../schemas/health.ts"
import { type HealthConfig, ProbeFailure, type ProbeSuccess, runCheck } from "./check.ts"
import { httpGet, joinUrl, snippet } from "./http.ts"

export const probeOcr = (config: HealthConfig): Effect.Effect<ProbeSuccess, ProbeFailure> =>
  httpGet(joinUrl(config.ocrUrl, "/health"), { timeoutMs: config.timeoutMs }).pipe(
    Effect.mapError((e) => new ProbeFailure({ detail: `OCR API ${config.ocrUrl}: ${e.detail}` })),
    Effect.flatMap(({ body, statusCode }) => {
      const said = snippet(body, 120)
      const detail = `OCR API answered HTTP ${statusCode}${said !== "" ? `: ${said}` : ""}`
      return statusCode >= 200 && statusCode < 300
        ? Effect.succeed({ detail })
        : Effect.fail(new ProbeFailure({ detail }))
    })
  )

export const checkOcr = (config: HealthConfig): Effect.Effect<HealthResult> => runCheck("ocr", probeOcr(config))
