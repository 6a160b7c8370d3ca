import { describe, expect, it } from "vitest"
import { existsSync, readFileSync } from "node:fs"
import { basename } from "node:path"
import { fixtureFiles, goldenFileFor, serialise } from "../../kernel/replay/fixtures.ts"
import { runReplay } from "../support/replay.ts"

describe("replay goldens", () => {
  for (const file of fixtureFiles()) {
    it(`${basename(file)} matches its golden and replays byte-identically`, async () => {
      const fixture: unknown = JSON.parse(readFileSync(file, "utf8"))
      const first = serialise(await runReplay(fixture))
      const second = serialise(await runReplay(fixture))
      expect(second).toBe(first)
      const golden = goldenFileFor(file)
      expect(existsSync(golden), `no golden for ${basename(file)}: run make replay-update`).toBe(true)
      expect(JSON.parse(first)).toEqual(JSON.parse(readFileSync(golden, "utf8")))
    })
  }
})
