/**
 * Compiles each process entry point to one ES module in dist/, mirroring its
 * source path (kernel/main.ts -> dist/kernel/main.js), so production and
 * `make run` execute JavaScript and never load tsx.
 *
 *   node scripts/build.mjs kernel/main.ts [kernel/exechost/main.ts ...]
 *
 * What is bundled, and why: start-up was dominated by Node resolving,
 * reading and compiling some thousand ES modules one by one (effect alone
 * is hundreds), so our code and every pure-JavaScript package go into the
 * bundle. Packages that find their own files on disk at run time (.proto
 * definitions through __dirname, the better-sqlite3 addon) stay external
 * and load from node_modules as they are.
 *
 * A bundled module of ours that locates files through `import.meta.url`
 * gets the URL of its source file, computed relative to the bundle so the
 * tree can move. Plain JavaScript, so building needs only node and esbuild.
 */
import { build } from "esbuild"
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { basename, dirname, join, relative, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
// LOMI_BUILD_OUTDIR: somewhere else than dist/ (test/dashboard/bundle.test.ts builds into a temporary directory).
const outdir = process.env.LOMI_BUILD_OUTDIR ? resolve(process.env.LOMI_BUILD_OUTDIR) : join(root, "dist")
const entries = process.argv.slice(2)
if (entries.length === 0) {
  process.stderr.write("usage: node scripts/build.mjs <entry.ts> [...]\n")
  process.exit(2)
}

/** Load their own files (protos, native addons) relative to themselves: never bundled. */
const EXTERNAL = [
  "better-sqlite3",
  "firebase-admin",
  "@google-cloud/*",
  "google-gax",
  "@grpc/*",
  "@firestore-emulator/*",
  "protobufjs",
  "nodemailer",
  "smtp-server"
]

const toUrlPath = (p) => p.split(sep).join("/")

/** `import.meta.url` in a bundled module of ours means that module's source file, not the bundle. */
const sourceUrlPlugin = {
  name: "source-import-meta-url",
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (args.path.includes(`${sep}node_modules${sep}`)) return undefined
      const text = await readFile(args.path, "utf8")
      if (!text.includes("import.meta.url")) return undefined
      // __LOMI_ROOT__ is the way from the bundle being written up to the repository root (a define per bundle).
      const fromRoot = toUrlPath(relative(root, args.path))
      return {
        contents: text.replaceAll("import.meta.url", `new URL(__LOMI_ROOT__ + ${JSON.stringify(fromRoot)}, import.meta.url).href`),
        loader: "ts"
      }
    })
  }
}

/**
 * The dashboard server's bundle leaves out what @effect/platform-node imports
 * for features it never uses: undici (the HTTP client) and ws (WebSocket
 * upgrades; the dashboard's live updates are SSE). Both are evaluated when
 * imported, and they were a fifth of the bundle and several MiB of its RSS
 * at rest (issue 12: under 80 MiB). In their place, a module whose every
 * use fails with one clear line, so a future WebSocket route or HTTP client
 * call in that process says what to change instead of misbehaving.
 */
const UNUSED_IN_DASHBOARD = /^(undici|ws)$/
const unusedInDashboardPlugin = {
  name: "dashboard-unused-network-clients",
  setup(b) {
    b.onResolve({ filter: UNUSED_IN_DASHBOARD }, (args) =>
      /[\\/]node_modules[\\/]@effect[\\/]platform-node/.test(args.importer) ? { path: args.path, namespace: "dashboard-unused" } : undefined
    )
    b.onLoad({ filter: /.*/, namespace: "dashboard-unused" }, (args) => {
      const fail = `() => { throw new Error(${JSON.stringify(`${args.path} is left out of the dashboard bundle (scripts/build.mjs); bundle it to use it there`)}) }`
      const unusable = `new Proxy(function () {}, { get: ${fail}, construct: ${fail}, apply: ${fail} })`
      return {
        contents: `const unusable = ${unusable}; export default unusable; export const WebSocket = unusable; export const WebSocketServer = unusable;`,
        loader: "js"
      }
    })
  }
}
/**
 * The Swagger UI page (2 MB of JavaScript) is imported only by
 * kernel/http/apiDocsPage.ts, dynamically, so it should sit in a chunk loaded
 * when the docs are first opened. But @effect/platform's index re-exports it,
 * and with code splitting esbuild puts whatever that index reaches into the
 * chunk every entry loads. The index's re-export is cut here; the subpath
 * `@effect/platform/HttpApiSwagger` is the way to it, and the barrel's name
 * for it says so if used.
 */
const swaggerOffBarrelPlugin = {
  name: "swagger-off-the-barrel",
  setup(b) {
    b.onResolve({ filter: /^\.\/HttpApiSwagger\.js$/ }, (args) =>
      /[\\/]@effect[\\/]platform[\\/]dist[\\/]esm[\\/]index\.js$/.test(args.importer) ? { path: args.path, namespace: "swagger-off-barrel" } : undefined
    )
    b.onLoad({ filter: /.*/, namespace: "swagger-off-barrel" }, () => {
      const fail = 'throw new Error("import HttpApiSwagger from \\"@effect/platform/HttpApiSwagger\\" (scripts/build.mjs cuts it from the index)")'
      return { contents: `export const layer = () => { ${fail} }; export const layerHttpLayerRouter = () => { ${fail} };`, loader: "js" }
    })
  }
}
const isDashboard = (entry) => toUrlPath(relative(root, resolve(root, entry))) === "kernel/dashboard/main.ts"
/** What an entry's bundle gets whichever its format. */
const entryOptions = (entry) =>
  isDashboard(entry)
    ? {
        // The dashboard server's source text stays in its heap for as long as it runs: minified, ~1.5 MiB
        // less at rest (issue 12: under 80 MiB). Names kept for logs; the linked source map has the rest.
        minify: true,
        keepNames: true,
        plugins: [sourceUrlPlugin, unusedInDashboardPlugin, swaggerOffBarrelPlugin]
      }
    : { plugins: [sourceUrlPlugin] }

/**
 * Entries run through a V8 code cache (scripts/code-cache.cjs): compiling
 * their bundle was a fifth to a third of the kernel's and the execution
 * host's CPU before they answered, on every start. Node 20 caches code only
 * for scripts, not ES modules, so these are built as one CommonJS bundle,
 * `main.bundle.cjs`, and `main.js` becomes a two-line module that runs it
 * through the cache (stack traces name `main.bundle.cjs`; its linked source
 * map has the sources). No splitting in CommonJS: a dynamic import() of ours
 * stays in the bundle, evaluated only when first imported (the demo's
 * emulator and mail sink), and undici, imported dynamically for the health
 * probes, is left external so it is neither compiled nor held until used.
 * The dashboard server stays an ES module with its Swagger chunk: as a
 * cached CommonJS bundle its module loading took 18% less CPU (0.66 to
 * 0.54 s, load 14) but it rested 3 MiB higher, the Swagger page's 1.9 MB
 * held from the start, against its 80 MiB target. Adding it here is all it
 * takes if that trade is wanted.
 */
// The replay CLI too: `make replay` is a whole process per fixture, and compiling the bundle was a
// sixth of an empty month's CPU (the Makefile has it write its cache as soon as it has loaded).
const CODE_CACHED = new Set(["kernel/main.ts", "kernel/exechost/main.ts", "kernel/replay/cli.ts"])
const isCodeCached = (entry) => CODE_CACHED.has(toUrlPath(relative(root, resolve(root, entry))))
const LOADER = join(root, "scripts/code-cache.cjs")
const { sourceKey } = createRequire(import.meta.url)(LOADER)
const loaderStub = (fromEntryDir, bundleName) =>
  `// Written by scripts/build.mjs: runs ${bundleName} through a V8 code cache (scripts/code-cache.cjs).\n` +
  `import { createRequire } from "node:module"\n` +
  `createRequire(import.meta.url)(${JSON.stringify(`${fromEntryDir}/code-cache.cjs`)}).runWithCodeCache(new URL(${JSON.stringify(`./${bundleName}`)}, import.meta.url))\n`

const started = performance.now()
for (const entry of entries) {
  const outfile = join(outdir, relative(root, resolve(root, entry))).replace(/\.ts$/, ".js")
  const upToRoot = toUrlPath(relative(dirname(outfile), root)) || "."
  const chunkPrefix = `${basename(outfile, ".js")}-`
  // Chunks of an earlier build carry other hashes: gone, so dist/ holds what this build wrote.
  if (existsSync(dirname(outfile))) {
    for (const name of readdirSync(dirname(outfile))) if (name.startsWith(chunkPrefix) && /\.js(\.map)?$/.test(name)) rmSync(join(dirname(outfile), name))
  }
  if (isCodeCached(entry)) {
    const bundleName = `${basename(outfile, ".js")}.bundle.cjs`
    const bundleFile = join(dirname(outfile), bundleName)
    await build({
      entryPoints: [resolve(root, entry)],
      outfile: bundleFile,
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node20",
      external: [...EXTERNAL, "undici"],
      // CommonJS has no import.meta: our modules' source URLs are computed from the bundle's own path instead.
      banner: { js: 'const __lomiImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
      sourcemap: "linked",
      legalComments: "none",
      logLevel: "warning",
      define: { __LOMI_ROOT__: JSON.stringify(`${upToRoot}/`), "import.meta.url": "__lomiImportMetaUrl" },
      ...entryOptions(entry)
    })
    // Code caches of an earlier bundle text go (each names the text it was compiled from); this one's stay.
    const current = `${bundleName}.${sourceKey(readFileSync(bundleFile, "utf8"))}-`
    for (const name of readdirSync(dirname(outfile))) {
      // A write cut short by a kill leaves its temporary file; those go too.
      const stale = /\.v8cache\.\d+\.tmp$/.test(name) || (/\.v8cache$/.test(name) && !name.startsWith(current))
      if (name.startsWith(`${bundleName}.`) && stale) rmSync(join(dirname(outfile), name))
    }
    // The loader sits at dist/'s top, shared by every cached entry.
    mkdirSync(outdir, { recursive: true })
    copyFileSync(LOADER, join(outdir, "code-cache.cjs"))
    writeFileSync(outfile, loaderStub(toUrlPath(relative(dirname(outfile), outdir)) || ".", bundleName))
    rmSync(`${outfile}.map`, { force: true })
    continue
  }
  await build({
    entryPoints: [resolve(root, entry)],
    outdir: dirname(outfile),
    entryNames: "[name]",
    // A dynamic import() becomes a chunk loaded when first used, with the external packages only it
    // imports (the kernel loads the embedded emulator and the demo mail sink only in demo mode).
    // Chunks sit beside their entry, so __LOMI_ROOT__ holds for them too; the hash keeps
    // two entries' chunks in one directory apart.
    splitting: true,
    chunkNames: `${chunkPrefix}[name]-[hash]`,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: EXTERNAL,
    // Bundled CommonJS packages call require() for Node's built-ins.
    banner: { js: 'import { createRequire as __lomiCreateRequire } from "node:module"; const require = __lomiCreateRequire(import.meta.url);' },
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "warning",
    define: { __LOMI_ROOT__: JSON.stringify(`${upToRoot}/`) },
    ...entryOptions(entry)
  })
}
process.stderr.write(`built ${entries.join(", ")} into dist/ in ${Math.round(performance.now() - started)} ms\n`)
