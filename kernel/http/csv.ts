/**
 * Manual Add's CSV upload: one report_id per line, an optional header,
 * blank lines skipped, duplicates reported against their first line. Only
 * the first column counts; a value may be double-quoted.
 */

export type CsvLine =
  | { readonly _tag: "Id"; readonly line: number; readonly doc: string }
  | { readonly _tag: "Duplicate"; readonly line: number; readonly doc: string; readonly firstLine: number }

const HEADER = /^report[_ ]?id$/i

const firstCell = (raw: string): string => {
  const line = raw.trim()
  if (line.startsWith('"')) {
    const end = line.indexOf('"', 1)
    return (end < 0 ? line.slice(1) : line.slice(1, end)).trim()
  }
  return (line.split(/[,;\t]/)[0] ?? "").trim()
}

export const MAX_CSV_ROWS = 500

export const parseReportIdCsv = (text: string): ReadonlyArray<CsvLine> => {
  const out: Array<CsvLine> = []
  const seen = new Map<string, number>()
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\n|\r/)
  lines.forEach((raw, index) => {
    const line = index + 1
    const doc = firstCell(raw)
    if (doc === "") return
    if (out.length === 0 && seen.size === 0 && HEADER.test(doc)) return
    const first = seen.get(doc)
    if (first !== undefined) {
      out.push({ _tag: "Duplicate", line, doc, firstLine: first })
      return
    }
    seen.set(doc, line)
    out.push({ _tag: "Id", line, doc })
  })
  return out
}
