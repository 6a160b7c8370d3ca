/** Where the replay fixtures and their goldens live, and how a result is serialised. */
import { readdirSync } from "node:fs"
import { basename, join } from "node:path"
import { fileURLToPath } from "node:url"

export const REPLAY_DIR = fileURLToPath(new URL("../../fixtures/replays/", import.meta.url))
export const GOLDEN_DIR = join(REPLAY_DIR, "goldens")

export const fixtureFiles = (): ReadonlyArray<string> =>
  readdirSync(REPLAY_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => join(REPLAY_DIR, f))

export const goldenFileFor = (fixture: string) => join(GOLDEN_DIR, basename(fixture))

/** The exact bytes `make replay` prints. */
export const serialise = (result: unknown) => JSON.stringify(result, null, 2) + "\n"
