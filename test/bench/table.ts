/** Markdown tables for benchmark output. */
export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>): string => {
  const cells = rows.map((r) => r.map(String))
  const line = (r: ReadonlyArray<string>) => `| ${r.join(" | ")} |`
  return [line(headers), line(headers.map(() => "---")), ...cells.map(line)].join("\n")
}

export const ms = (n: number) => n.toFixed(1)
export const ratio = (n: number, base: number) => (base === 0 ? "n/a" : `${(n / base).toFixed(2)}x`)
