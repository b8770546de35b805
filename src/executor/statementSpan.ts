/**
 * Span naming and sanitising for SQL statements, after the OpenTelemetry database semantic
 * conventions: the span is named by the statement's leading keyword(s) and carries the text with
 * literal values replaced by `?`, so data never leaves the process through traces. Pure.
 */

const objectStatements = new Set(["CREATE", "DROP", "ALTER"])
const modifiers = new Set(["OR", "REPLACE", "TEMP", "TEMPORARY", "IF", "NOT", "EXISTS", "UNIQUE", "PERSISTENT"])

/** Skips whitespace and comments from `i`; returns the index of the next significant character. */
const skipTrivia = (sql: string, i: number): number => {
  while (i < sql.length) {
    if (/\s/.test(sql[i]!)) i++
    else if (sql.startsWith("--", i)) {
      const end = sql.indexOf("\n", i)
      i = end === -1 ? sql.length : end + 1
    } else if (sql.startsWith("/*", i)) {
      const end = sql.indexOf("*/", i + 2)
      i = end === -1 ? sql.length : end + 2
    } else break
  }
  return i
}

/** The span name of a statement: "SELECT", "INSERT", "CREATE TABLE", "DROP VIEW", ...; "SQL" if none. */
export const statementName = (sql: string): string => {
  const words: Array<string> = []
  let i = skipTrivia(sql, 0)
  while (i < sql.length && words.length < 8) {
    const match = /^[A-Za-z_]+/.exec(sql.slice(i, i + 64))
    if (match === null) break
    words.push(match[0].toUpperCase())
    i = skipTrivia(sql, i + match[0].length)
  }
  const first = words[0]
  if (first === undefined) return "SQL"
  if (!objectStatements.has(first)) return first
  const object = words.slice(1).find((w) => !modifiers.has(w))
  return object === undefined ? first : `${first} ${object}`
}

const identifierChar = /[A-Za-z0-9_$]/

/**
 * The statement with its literal values replaced by `?`: single-quoted strings (with `''` escapes,
 * and their E/X prefixes) and numbers. Identifiers (also "quoted" ones) and comments are kept.
 */
export const sanitizeStatement = (sql: string): string => {
  let out = ""
  let i = 0
  let backslashEscapes = false // inside an E'...' string
  while (i < sql.length) {
    const c = sql[i]!
    if (c === "'") {
      // A string literal; a quote doubled inside it is an escaped quote.
      let j = i + 1
      while (j < sql.length) {
        if (backslashEscapes && sql[j] === "\\") j += 2
        else if (sql[j] === "'") {
          if (sql[j + 1] === "'") j += 2
          else break
        } else j++
      }
      out += "?"
      i = j + 1
      backslashEscapes = false
    } else if (c === "\"") {
      const end = sql.indexOf("\"", i + 1)
      const j = end === -1 ? sql.length : end + 1
      out += sql.slice(i, j)
      i = j
    } else if (sql.startsWith("--", i) || sql.startsWith("/*", i)) {
      const j = skipTrivia(sql, i)
      out += sql.slice(i, j)
      i = j
    } else if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(sql[i + 1] ?? ""))) {
      if (i > 0 && identifierChar.test(sql[i - 1]!)) {
        // A digit inside an identifier such as t1 or col_2.
        out += c
        i++
        continue
      }
      const match = /^(?:0x[0-9A-Fa-f]+|[0-9_]*\.?[0-9_]+(?:[eE][+-]?[0-9]+)?)/.exec(sql.slice(i))!
      let j = i + match[0].length
      while (j < sql.length && identifierChar.test(sql[j]!)) j++ // a name that starts with digits stays
      out += j === i + match[0].length ? "?" : sql.slice(i, j)
      i = j
    } else if (identifierChar.test(c)) {
      let j = i
      while (j < sql.length && identifierChar.test(sql[j]!)) j++
      const word = sql.slice(i, j)
      if (sql[j] === "'" && /^[EeXxBb]$/.test(word)) {
        i = j // E'...' and X'...' literals: the prefix goes with the string
        backslashEscapes = word === "E" || word === "e"
        continue
      }
      out += word
      i = j
    } else {
      out += c
      i++
    }
  }
  return out
}
