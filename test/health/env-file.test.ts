import { describe, expect, it } from "@effect/vitest"
import { parseEnvFile } from "../../kernel/health/env-file.ts"

describe("parseEnvFile", () => {
  it("reads plain, quoted, exported and commented entries", () => {
    const env = parseEnvFile(
      [
        "\uFEFF# a comment",
        "",
        "PLAIN=value",
        "SPACED = spaced value  ",
        "export EXPORTED=yes",
        'DOUBLE="with # hash and \\"quote\\"\\n"  # trailing comment',
        "SINGLE='raw \\n kept' # comment",
        "INLINE=abc # comment",
        "HASHY=abc#def",
        "EMPTY=",
        "not a line",
        "WIN=crlf\r",
        "DUP=first",
        "DUP=second"
      ].join("\n")
    )
    expect(env).toEqual({
      PLAIN: "value",
      SPACED: "spaced value",
      EXPORTED: "yes",
      DOUBLE: 'with # hash and "quote"\n',
      SINGLE: "raw \\n kept",
      INLINE: "abc",
      HASHY: "abc#def",
      EMPTY: "",
      WIN: "crlf",
      DUP: "second"
    })
  })

  it("an unterminated quote keeps the rest of the line", () => {
    expect(parseEnvFile('K="abc')).toEqual({ K: "abc" })
  })
})
