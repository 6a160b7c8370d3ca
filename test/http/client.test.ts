/** The client the UI derives from the API definition works against the real server. */
import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Api, CSRF_HEADER, SESSION_COOKIE } from "../../schemas/api.ts"
import { serverLayer, signIn, TestServer } from "./support.ts"

const clientAs = (role: "viewer" | "operator" | "admin") =>
  Effect.gen(function* () {
    const { base } = yield* TestServer
    const session = yield* signIn(role)
    return yield* HttpApiClient.make(Api, {
      baseUrl: base,
      transformClient: HttpClient.mapRequest(
        HttpClientRequest.setHeaders({ cookie: `${SESSION_COOKIE}=${session.cookie}`, [CSRF_HEADER]: session.csrf })
      )
    })
  }).pipe(Effect.provide(FetchHttpClient.layer))

layer(serverLayer(), { excludeTestServices: true })("derived client", (it) => {
  it.effect("reads, typed errors and commands", () =>
    Effect.gen(function* () {
      const viewer = yield* clientAs("viewer")
      const cards = yield* viewer.dashboard.stateCards()
      expect(cards.waiting.total).toBe(0)
      const jobs = yield* viewer.dashboard.listJobs({ urlParams: { state: ["succeeded", "failed_permanent"], limit: 10 } })
      expect(jobs).toEqual({ items: [], nextCursor: null })
      const forbidden = yield* viewer.jobs.kill({ path: { run: 1 } }).pipe(Effect.flip)
      expect(forbidden._tag).toBe("Forbidden")

      const operator = yield* clientAs("operator")
      const missing = yield* operator.jobs.kill({ path: { run: 123456 } }).pipe(Effect.flip)
      expect(missing).toMatchObject({ _tag: "NotFound", message: "no run 123456" })

      const admin = yield* clientAs("admin")
      const saved = yield* admin.tunables.setTunables({ payload: { values: { EMAIL_ENABLED: 0 } } })
      expect(saved).toMatchObject({ ok: true, restartRequired: [] })
      const refused = yield* admin.tunables.setTunables({ payload: { values: { EMAIL_ENABLED: 2 } } }).pipe(Effect.flip)
      expect(refused._tag).toBe("ParseError")
    }).pipe(Effect.provide(FetchHttpClient.layer))
  )
})
