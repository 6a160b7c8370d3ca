/**
 * The dashboard's built files (ui/dist) at `/`. A path without an extension
 * that names no file gets index.html (client-side routes). Paths are
 * resolved inside the directory and never outside it; /api/* is never
 * answered from here. Without a build, `/` says where the API docs are.
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { statSync } from "node:fs"
import { extname, resolve, sep } from "node:path"

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json"
}

const isFile = (path: string) => {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

const notFound = (message: string) =>
  HttpServerResponse.unsafeJson({ _tag: "NotFound", message }, { status: 404 })

const PLACEHOLDER = `<!doctype html><html><head><meta charset="utf-8"><title>Lomi allocator</title></head>
<body><h1>Lomi allocator</h1><p>The dashboard has not been built. The API is documented at
<a href="/api/docs">/api/docs</a> (<a href="/api/openapi.json">openapi.json</a>).</p></body></html>`

/** The file a URL path names inside `root`, or undefined. */
export const resolveStatic = (root: string, urlPath: string): string | undefined => {
  let decoded: string
  try {
    decoded = decodeURIComponent(urlPath)
  } catch {
    return undefined
  }
  if (decoded.includes("\0")) return undefined
  const base = resolve(root)
  const full = resolve(base, `.${decoded.startsWith("/") ? decoded : `/${decoded}`}`)
  if (full !== base && !full.startsWith(base + sep)) return undefined
  if (isFile(full)) return full
  const index = resolve(full, "index.html")
  if (isFile(index)) return index
  // A client-side route: no extension, no file.
  if (extname(full) === "" && isFile(resolve(base, "index.html"))) return resolve(base, "index.html")
  return undefined
}

const serveStatic = (root: string | undefined) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const path = new URL(request.url, "http://localhost").pathname
    if (path === "/api" || path.startsWith("/api/")) return notFound(`no API endpoint ${request.method} ${path.length > 120 ? `${path.slice(0, 120)}…` : path}`)
    const rootExists = root !== undefined && isFile(resolve(root, "index.html"))
    if (!rootExists) {
      return path === "/" ? HttpServerResponse.html(PLACEHOLDER) : notFound(`no such page ${path}`)
    }
    const file = resolveStatic(root, path)
    if (file === undefined) return notFound(`no such file ${path}`)
    const hashed = file.includes(`${sep}assets${sep}`)
    return yield* HttpServerResponse.file(file, {
      contentType: TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
      headers: { "cache-control": hashed ? "public, max-age=31536000, immutable" : "no-cache" }
    }).pipe(Effect.orElseSucceed(() => notFound(`cannot read ${path}`)))
  })

/** Adds the static routes to the API's router. */
export const staticLayer = (root: string | undefined) =>
  HttpApiBuilder.Router.use((router) =>
    Effect.all([router.get("/", serveStatic(root)), router.get("/*", serveStatic(root))], { discard: true })
  )
