/**
 * The docs page itself, imported only by kernel/http/apiDocs.ts when the page
 * is asked for: @effect/platform's own Swagger page for the API
 * (schemas/api.ts), on a router built for this one request.
 */
import * as HttpApiSwagger from "@effect/platform/HttpApiSwagger"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect } from "effect"
import { Api } from "../../schemas/api.ts"

export const render = (path: `/${string}`) =>
  Effect.scoped(Effect.flatten(HttpLayerRouter.toHttpEffect(HttpApiSwagger.layerHttpLayerRouter({ api: Api, path }))))
