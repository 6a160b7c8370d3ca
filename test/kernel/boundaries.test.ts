/**
 * ARCHITECTURE.md: actors reach the outside world only through kernel
 * services by Tag. No actor touches the file system itself (the notifier's
 * log tail and the OCR output check go through kernel/runFiles.ts).
 */
import { describe, expect, it } from "vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const ACTORS = fileURLToPath(new URL("../../actors/", import.meta.url))

const sources = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []
  )

describe("actor boundaries", () => {
  it("no actor imports the file system or spawns processes", () => {
    const offenders = sources(ACTORS).filter((file) =>
      /from\s+["'](node:)?(fs|fs\/promises|child_process)["']/.test(readFileSync(file, "utf8"))
    )
    expect(offenders.map((f) => f.slice(ACTORS.length))).toEqual([])
  })
})
