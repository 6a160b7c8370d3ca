/**
 * The attempt runner compiled from the current sources, as `make build` does
 * for production: on a loaded machine tsx takes tens of seconds to start a
 * runner, which would make every job in these tests look slow to Slurm.
 */
import { join } from "node:path"
import { build } from "esbuild"
import { repoRoot } from "./support.ts"

/** Bundles `entry` (relative to the repository) into `outDir`; returns the argv that runs it. */
export const buildRunner = async (entry: string, outDir: string): Promise<ReadonlyArray<string>> => {
  const outfile = join(outDir, entry.replace(/[/.]/g, "_") + ".mjs")
  // Bundled outside the repository, the runner cannot find .build/lomi-enter above itself as dist/ does;
  // jobs get it from sbatch's environment (--export=ALL).
  if (process.env["LOMI_ENTER"] === undefined) process.env["LOMI_ENTER"] = join(repoRoot, ".build", "lomi-enter")
  await build({
    entryPoints: [join(repoRoot, entry)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    banner: { js: 'import { createRequire as __lomiCreateRequire } from "node:module"; const require = __lomiCreateRequire(import.meta.url);' },
    logLevel: "warning"
  })
  return [process.execPath, outfile]
}
