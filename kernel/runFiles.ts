/**
 * The run files an actor may read: a run's log tail (quoted in emails) and
 * whether a pipeline left an output behind (the OCR cache). Actors reach the
 * file system only through this service, by Tag: nothing in actors/ imports
 * node:fs. Reads never fail: a missing or unreadable file is "nothing there",
 * which is what an email or a cache decision should see.
 */
import { existsSync, readFileSync } from "node:fs"
import { Effect } from "effect"

export class RunFiles extends Effect.Service<RunFiles>()("kernel/RunFiles", {
  succeed: {
    /** The last `lines` non-empty lines of a text file; [] when it is absent or unreadable. */
    tail: (file: string | undefined, lines: number): Effect.Effect<ReadonlyArray<string>> =>
      Effect.sync(() => {
        if (file === undefined || !existsSync(file)) return []
        try {
          return readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0).slice(-lines)
        } catch {
          return []
        }
      }),
    exists: (file: string): Effect.Effect<boolean> => Effect.sync(() => existsSync(file))
  }
}) {}
