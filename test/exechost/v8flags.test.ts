/**
 * The execution host runs with the same V8 flags however it is started:
 * the launcher (`make run`, kernel/launch.ts spells them out), the kernel's
 * client when it starts a host itself, and the exechost bench (both import
 * kernel/exechost/v8flags.ts), so the bench's RSS figures are production's.
 */
import { readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { describe, expect, it } from "vitest"
import { defaultHostCommand } from "../../kernel/exechost/client.ts"
import { HOST_V8_FLAGS } from "../../kernel/exechost/v8flags.ts"

const repo = resolve(import.meta.dirname, "../..")

describe("execution host V8 flags", () => {
  it("a 1 MiB young generation and old space grown by 10% of survivors, in the launcher and in the kernel's client", () => {
    expect(HOST_V8_FLAGS).toEqual(["--max-semi-space-size=1", "--heap-growing-percent=10"])
    const launcher = readFileSync(join(repo, "kernel", "launch.ts"), "utf8")
    const spelled = /const HOST_V8_FLAGS = (\[[^\]]*\])/.exec(launcher)?.[1]
    expect(spelled === undefined ? undefined : JSON.parse(spelled)).toEqual(["--max-semi-space-size=1", "--heap-growing-percent=10"])
    const command = defaultHostCommand()
    expect(command.slice(1, 3)).toEqual(["--max-semi-space-size=1", "--heap-growing-percent=10"])
  })
})
