/**
 * Statement spans, after the OpenTelemetry database semantic conventions: a span is named by its
 * query summary, `{operation} {target}` (`SELECT _medallion.meta`, `CREATE TABLE silver.orders__next`,
 * `BEGIN`), carries the operation (db.operation.name), the table it acts on (db.collection.name)
 * and the text with literal values replaced by `?` (db.query.text), so data never leaves the process
 * through traces. The naming and sanitising are pure; `traced` wraps a statement's effect in its span.
 */
import { Effect, Exit } from "effect"
import { ExpectedFailure } from "./Executor.ts"

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
 * How the engine writes literals: DuckDB's strings are '...' with '' for a quote (backslashes only
 * escape in E'...'), and "..." is an identifier; Spark SQL's strings are '...' or "..." with
 * backslash escapes, and identifiers are quoted with backticks.
 */
export type SqlDialect = "duckdb" | "spark"

/** Where the string or quoted identifier opened by the quote at `i` ends (the index after it). */
const quotedEnd = (sql: string, i: number, backslashEscapes: boolean): number => {
  const quote = sql[i]!
  let j = i + 1
  while (j < sql.length) {
    if (backslashEscapes && sql[j] === "\\") j += 2
    else if (sql[j] === quote) {
      // A quote doubled inside is an escaped quote.
      if (sql[j + 1] === quote) j += 2
      else return j + 1
    } else j++
  }
  return sql.length
}

/**
 * The statement with its literal values replaced by `?`: strings (and their E/X prefixes) and
 * numbers. Identifiers (also quoted ones) and comments are kept.
 */
export const sanitizeStatement = (sql: string, dialect: SqlDialect = "duckdb"): string => {
  const spark = dialect === "spark"
  let out = ""
  let i = 0
  let backslashEscapes = spark // DuckDB: inside an E'...' string
  while (i < sql.length) {
    const c = sql[i]!
    if (c === "'" || (spark && c === '"')) {
      out += "?"
      i = quotedEnd(sql, i, backslashEscapes)
      backslashEscapes = spark
    } else if (c === '"' || c === "`") {
      const j = quotedEnd(sql, i, false)
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

// ---------------------------------------------------------------------------------------------
// Query summary

type Token =
  | { readonly kind: "word"; readonly text: string; readonly upper: string }
  | { readonly kind: "quoted"; readonly text: string; readonly raw: string }
  | { readonly kind: "other"; readonly text: string }

/** Words, quoted identifiers ("x", `x`) and single characters; a string literal is one "?". */
const tokenize = (sql: string, dialect: SqlDialect): ReadonlyArray<Token> => {
  const spark = dialect === "spark"
  const tokens: Array<Token> = []
  let i = skipTrivia(sql, 0)
  while (i < sql.length) {
    const c = sql[i]!
    if (/[A-Za-z_]/.test(c)) {
      let j = i + 1
      while (j < sql.length && identifierChar.test(sql[j]!)) j++
      const text = sql.slice(i, j)
      // E'...' (DuckDB): the prefix belongs to the string.
      if (!spark && sql[j] === "'" && /^[Ee]$/.test(text)) {
        tokens.push({ kind: "other", text: "?" })
        i = quotedEnd(sql, j, true)
      } else {
        tokens.push({ kind: "word", text, upper: text.toUpperCase() })
        i = j
      }
    } else if (c === "'" || (spark && c === '"')) {
      tokens.push({ kind: "other", text: "?" })
      i = quotedEnd(sql, i, spark)
    } else if (c === '"' || c === "`") {
      const j = quotedEnd(sql, i, false)
      const raw = sql.slice(i, j)
      tokens.push({ kind: "quoted", text: raw.slice(1, raw.endsWith(c) && raw.length > 1 ? -1 : undefined).replaceAll(c + c, c), raw })
      i = j
    } else {
      tokens.push({ kind: "other", text: c })
      i++
    }
    i = skipTrivia(sql, i)
  }
  return tokens
}

const isName = (t: Token | undefined): boolean => t !== undefined && (t.kind === "word" || t.kind === "quoted")
const plainIdentifier = /^[A-Za-z_][A-Za-z0-9_$]*$/

/** A possibly qualified name starting at `i` (`"silver"."orders"` as silver.orders), and the index after it. */
const nameAt = (tokens: ReadonlyArray<Token>, i: number): { readonly name: string; readonly next: number } | undefined => {
  if (!isName(tokens[i])) return undefined
  const parts: Array<string> = []
  let j = i
  for (;;) {
    const t = tokens[j]!
    parts.push(t.kind === "quoted" ? (plainIdentifier.test(t.text) ? t.text : t.raw) : t.text)
    j++
    if (tokens[j]?.text === "." && isName(tokens[j + 1])) j++
    else break
  }
  return { name: parts.join("."), next: j }
}

const wordAt = (tokens: ReadonlyArray<Token>, i: number): string | undefined => {
  const t = tokens[i]
  return t?.kind === "word" ? t.upper : undefined
}

// Words that end a FROM list (a join condition does not: `FROM a JOIN b ON ..., c`), or that are not table names where one could stand.
const clauseWords = new Set([
  "WHERE",
  "GROUP",
  "HAVING",
  "QUALIFY",
  "WINDOW",
  "ORDER",
  "LIMIT",
  "OFFSET",
  "UNION",
  "EXCEPT",
  "INTERSECT",
  "SELECT",
  "AS",
  "SET",
  "VALUES",
  "RETURNING",
  "WHEN",
  "THEN",
  "LATERAL",
  "UNNEST"
])
const joinWords = new Set(["JOIN"])
const tableKinds = new Set(["TABLE", "VIEW"])

export interface StatementSummary {
  /** db.operation.name: SELECT, INSERT, CREATE TABLE, ...; "SQL" when the statement has no leading keyword. */
  readonly operation: string
  /** What the operation acts on, as written (quotes dropped where a name needs none): tables, or a schema. */
  readonly targets: ReadonlyArray<string>
  /** db.collection.name: the one table or view the statement acts on, when there is exactly one. */
  readonly collection: string | undefined
  /** db.query.summary, and the span name: `{operation} {target} ...`, at most 255 characters. */
  readonly summary: string
}

/** The tables read at the top level of a query from token `start` on (FROM and JOIN; not subqueries, CTEs or table functions). */
const readTargets = (tokens: ReadonlyArray<Token>, start: number, ctes: ReadonlySet<string>): Array<string> => {
  const targets: Array<string> = []
  let depth = 0
  let inFrom = false
  for (let i = start; i < tokens.length; i++) {
    const t = tokens[i]!
    if (t.text === "(") depth++
    else if (t.text === ")") depth = Math.max(0, depth - 1)
    if (depth > 0 || t.text === "(" || t.text === ")") continue
    const word = wordAt(tokens, i)
    if (word === "FROM" || (word !== undefined && joinWords.has(word)) || (inFrom && t.text === ",")) {
      inFrom = true
      const found = nameAt(tokens, i + 1)
      // A name followed by "(" is a table function (read_csv(...), range(...)), not a table.
      if (found !== undefined && tokens[found.next]?.text !== "(" && !clauseWords.has(wordAt(tokens, i + 1) ?? "") && !ctes.has(found.name.toLowerCase())) {
        targets.push(found.name)
      }
    } else if (word !== undefined && clauseWords.has(word)) inFrom = false
  }
  return targets
}

/** Operation, targets and summary of a statement, after the semantic conventions' query summary. Pure. */
export const describeStatement = (sql: string, dialect: SqlDialect = "duckdb"): StatementSummary => {
  const tokens = tokenize(sql, dialect)
  let i = 0
  while (tokens[i]?.text === "(") i++
  // WITH a AS (...), b AS (...) <statement>: the CTE names are not tables.
  const ctes = new Set<string>()
  if (wordAt(tokens, i) === "WITH") {
    i++
    if (wordAt(tokens, i) === "RECURSIVE") i++
    while (i < tokens.length) {
      const name = nameAt(tokens, i)
      if (name !== undefined) ctes.add(name.name.toLowerCase())
      // Up to the body's "(" after AS, then past its closing ")".
      while (i < tokens.length && wordAt(tokens, i) !== "AS") i++
      while (i < tokens.length && tokens[i]!.text !== "(") i++
      let depth = 0
      for (; i < tokens.length; i++) {
        if (tokens[i]!.text === "(") depth++
        else if (tokens[i]!.text === ")" && --depth === 0) break
      }
      i++
      if (tokens[i]?.text === ",") i++
      else break
    }
  }
  const first = wordAt(tokens, i)
  let operation = first ?? "SQL"
  let targets: Array<string> = []
  let collection: string | undefined
  // The name at `at` is the target; `isTable`: a table or view (then also the collection). A
  // name followed by "(" is a column list after a table, and a function's or macro's signature otherwise.
  const target = (at: number, isTable: boolean) => {
    const found = nameAt(tokens, at)
    if (found === undefined || (tokens[found.next]?.text === "(" && !isTable)) return
    targets = [found.name]
    if (isTable) collection = found.name
  }
  // Skips keywords such as IF NOT EXISTS; a word followed by "." is a name (temp."__stage_x").
  const skip = (at: number, words: ReadonlySet<string>) => {
    while (words.has(wordAt(tokens, at) ?? "") && tokens[at + 1]?.text !== ".") at++
    return at
  }
  switch (first) {
    case "SELECT":
    case "FROM":
    case "VALUES":
      operation = "SELECT"
      targets = [...new Set(readTargets(tokens, i, ctes))]
      if (targets.length === 1) collection = targets[0]
      break
    case "INSERT":
      target(skip(i + 1, new Set(["OR", "REPLACE", "IGNORE", "INTO", "OVERWRITE", "TABLE"])), true)
      break
    case "UPDATE":
    case "TRUNCATE":
      target(skip(i + 1, new Set(["TABLE", "ONLY"])), true)
      break
    case "DELETE":
      target(skip(i + 1, new Set(["FROM"])), true)
      break
    case "MERGE":
      target(skip(i + 1, new Set(["INTO"])), true)
      break
    case "CREATE":
    case "DROP":
    case "ALTER": {
      const kindAt = skip(i + 1, modifiers)
      const kind = wordAt(tokens, kindAt)
      if (kind === undefined) break
      operation = `${first} ${kind}`
      target(skip(kindAt + 1, modifiers), tableKinds.has(kind))
      break
    }
    case "COPY":
      target(i + 1, true)
      break
  }
  const parts = [operation, ...targets]
  let summary = ""
  for (const part of parts) {
    if (summary.length + part.length + 1 > 255) break
    summary = summary === "" ? part : `${summary} ${part}`
  }
  return { operation, targets, collection, summary }
}

/**
 * Runs a statement's effect in its span. Within `ExpectedFailure` (a probe whose failure is an
 * answer, such as reading a table that may not exist yet) a failure does not mark the span as an
 * error: it ends normally with `medallion.expected_failure` set, and the failure goes on to the caller.
 */
export const traced =
  (sql: string, dialect: SqlDialect, attributes: Readonly<Record<string, unknown>>) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(ExpectedFailure, (expected) => {
      const statement = describeStatement(sql, dialect)
      const options = {
        kind: "client" as const,
        attributes: {
          ...attributes,
          "db.operation.name": statement.operation,
          ...(statement.collection === undefined ? {} : { "db.collection.name": statement.collection }),
          "db.query.summary": statement.summary,
          "db.query.text": sanitizeStatement(sql, dialect)
        }
      }
      if (!expected) return Effect.withSpan(effect, statement.summary, options)
      return Effect.withSpan(
        Effect.tap(Effect.exit(effect), (exit) => (Exit.isFailure(exit) ? Effect.annotateCurrentSpan("medallion.expected_failure", true) : Effect.void)),
        statement.summary,
        options
      ).pipe(Effect.flatten)
    })
