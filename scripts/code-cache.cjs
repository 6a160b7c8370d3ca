/**
 * Runs a CommonJS bundle through a V8 code cache kept beside it, so a
 * process's start-up skips most of parsing and compiling its own code
 * (issue 12, start-up). Node 20 has no compile cache for ES modules
 * (`module.enableCompileCache` is Node 22), so scripts/build.mjs builds the
 * kernel and the execution host as CommonJS bundles (`main.bundle.cjs`)
 * and writes a small `main.js` that calls this.
 *
 *   require("./code-cache.cjs").runWithCodeCache("/abs/dist/kernel/main.bundle.cjs")
 *
 * The cache file is `<bundle>.<source>-<flags>.v8cache`. V8 itself accepts
 * a cache for any source of the same length (its check is the length and
 * V8's flags), so the name holds a hash of the bundle's text and one of
 * Node's version and this process's node flags: a rebuilt bundle or another
 * flag set never runs code compiled from something else, it just has no
 * cache yet (the launcher's flags and a test's bare `node` keep one each).
 *
 * When there is none (the first start after a build) or V8 refused it, the
 * process runs uncached and writes one LOMI_CODE_CACHE_WRITE_AFTER_MS
 * (default 5 s) after loading: by then its start-up has compiled the
 * functions it runs, and the cache holds those too, not only the top level.
 * Written to a temporary name and renamed, so a process killed mid-write or
 * two processes writing at once leave a whole file or none. A tree that
 * cannot be written (read-only install) simply stays uncached.
 *
 * LOMI_CODE_CACHE_DEBUG=1 prints one line to stderr: whether the cache was
 * used, absent or rejected (tests read it).
 *
 * Plain CommonJS, no dependencies: it runs before anything else is loaded.
 */
"use strict"
const crypto = require("node:crypto")
const fs = require("node:fs")
const { createRequire } = require("node:module")
const path = require("node:path")
const { fileURLToPath } = require("node:url")
const vm = require("node:vm")

const DEFAULT_WRITE_AFTER_MS = 5_000

const sha256 = (text) => crypto.createHash("sha256").update(text).digest("hex")

/** The part of a cache's name that says which bundle text it was compiled from (the build removes the others). */
const sourceKey = (source) => sha256(source).slice(0, 16)
exports.sourceKey = sourceKey

/** The name of a cache: what V8 does not check itself, the bundle's text, then Node's version and flags. */
const cacheKey = (source) => `${sourceKey(source)}-${sha256(`${process.version}\0${process.execArgv.join("\0")}`).slice(0, 8)}`

const writeCache = (script, cacheFile) => {
  const temporary = `${cacheFile}.${process.pid}.tmp`
  try {
    fs.writeFileSync(temporary, script.createCachedData())
    fs.renameSync(temporary, cacheFile)
  } catch {
    // Read-only tree or full disk: the next start is uncached, as before this existed.
    fs.rmSync(temporary, { force: true })
  }
}

/** Loads and runs `bundle` (a path or file: URL) as CommonJS, with the code cache when there is a good one. */
exports.runWithCodeCache = (bundle) => {
  const file = typeof bundle === "string" ? path.resolve(bundle) : fileURLToPath(bundle)
  const source = fs.readFileSync(file, "utf8")
  const cacheFile = `${file}.${cacheKey(source)}.v8cache`
  let cachedData
  try {
    cachedData = fs.readFileSync(cacheFile)
  } catch {
    cachedData = undefined
  }
  // The wrapper Node's own CommonJS loader uses, on the same line, so line numbers in stacks stay the bundle's.
  const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source}\n})`
  const script = new vm.Script(wrapped, {
    filename: file,
    cachedData,
    // import() inside the bundle (packages left external) goes through Node's own ESM loader.
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER
  })
  const status = cachedData === undefined ? "absent" : script.cachedDataRejected === true ? "rejected" : "used"
  if (process.env.LOMI_CODE_CACHE_DEBUG === "1") process.stderr.write(`code cache ${status}: ${cacheFile}\n`)
  if (status !== "used") {
    const after = Number(process.env.LOMI_CODE_CACHE_WRITE_AFTER_MS ?? DEFAULT_WRITE_AFTER_MS)
    setTimeout(() => writeCache(script, cacheFile), Number.isFinite(after) && after >= 0 ? after : DEFAULT_WRITE_AFTER_MS).unref()
  }
  const module = { exports: {}, filename: file, id: file, loaded: false }
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file))
  module.loaded = true
  return status
}
