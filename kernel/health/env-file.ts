/**
 * A small `.env` reader (KEY=VALUE, `export` prefix, quotes, comments), enough
 * for the pipelines' env files without a dotenv dependency. Later keys win.
 */

const unescapeDoubleQuoted = (value: string): string =>
  value.replace(/\\([nrt"\\])/g, (_, c: string) => (c === "n" ? "\n" : c === "r" ? "\r" : c === "t" ? "\t" : c))

const parseValue = (raw: string): string => {
  const quote = raw[0]
  if (quote === '"' || quote === "'") {
    let end = -1
    for (let i = 1; i < raw.length; i++) {
      if (quote === '"' && raw[i] === "\\") {
        i++
        continue
      }
      if (raw[i] === quote) {
        end = i
        break
      }
    }
    // An unterminated quote: take the rest of the line as is.
    const inner = end === -1 ? raw.slice(1) : raw.slice(1, end)
    return quote === '"' ? unescapeDoubleQuoted(inner) : inner
  }
  // Unquoted: a `#` after whitespace starts a comment.
  const comment = /(^|\s)#/.exec(raw)
  return (comment === null ? raw : raw.slice(0, comment.index)).trim()
}

export const parseEnvFile = (text: string): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const rawLine of text.replace(/^\uFEFF/, "").split(/\r?\n/)) {
    const line = rawLine.trim()
    if (line === "" || line.startsWith("#")) continue
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line)
    if (match === null) continue
    const [, key, value] = match
    if (key !== undefined) env[key] = parseValue(value ?? "")
  }
  return env
}
