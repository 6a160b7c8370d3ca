/**
 * The API's docs page (Swagger UI, inline, no CDN) at a path, loaded when
 * it is first asked for. @effect/platform's HttpApiSwagger.layer builds the
 * page when the server starts and keeps it: the Swagger UI bundle is about
 * 2 MB of JavaScript, held three times over (in the server's bundle, as a
 * string, inside the page), several MiB of a dashboard server meant to rest
 * under 80 MiB (issue 12) for a page an operator rarely opens. Here the
 * bundle lives in a chunk of its own (kernel/http/apiDocsPage.ts, a dynamic
 * import), and each request builds the page and lets it go.
 */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"

export const apiDocsLayer = (path: `/${string}`) =>
  HttpApiBuilder.Router.use((router) =>
    router.get(
      path,
      Effect.flatMap(
        Effect.promise(() => import("./apiDocsPage.ts")),
        (page) => page.render(path)
      )
    )
  )
