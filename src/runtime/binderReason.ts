/**
 * The engine's reason for rejecting a query, in a person's words: what is wrong (a column, a type
 * or a function that does not exist, a syntax error, a function given other types) and the word of
 * the pipeline it is about, so the caller can point at where that word is written. Pure. Knows
 * DuckDB's wording; any other message is kept as the engine wrote it, without the generated SQL it
 * quotes. Does not run queries or know where anything is written.
 */
import { closest } from "../spec/suggest.ts"

export interface BinderReason {
  /** What is wrong, e.g. `column "amout" does not exist; did you mean amount?`. */
  readonly message: string
  /** The word as the person wrote it (a column, type or function name, the token near a syntax error), when the engine names one. */
  readonly token: string | undefined
}

/** medallion's own columns, which a person never wrote and should never be offered. */
const ownColumn = /^__medallion_/

/** The engine's message, first lines only: without the `LINE n:` quote of the generated SQL and its caret. */
const withoutSql = (detail: string): ReadonlyArray<string> => detail.split("\n").filter((line) => line.trim() !== "" && !/^LINE \d+:/.test(line) && !/^\s*\^\s*$/.test(line))

/** The quoted names in a `Candidate bindings: "a", "s.b"` line, without table qualifiers. */
const candidatesIn = (detail: string): ReadonlyArray<string> => {
  const line = /Candidate bindings:(.*)/.exec(detail)?.[1] ?? ""
  return Array.from(line.matchAll(/"([^"]+)"/g), (m) => m[1]!.replace(/^[A-Za-z_][A-Za-z0-9_]*\./, ""))
}

/**
 * "did you mean x?" for a missing column: the closest of the columns the part can see (`columns`,
 * when known, else the engine's candidates); without a close one, the columns it can see.
 */
const columnHint = (name: string, columns: ReadonlyArray<string> | undefined, detail: string): string => {
  const visible = (columns ?? candidatesIn(detail)).filter((c) => !ownColumn.test(c))
  const hint = closest(name, visible)
  if (hint !== undefined) return `; did you mean ${hint}?`
  if (visible.length === 0) return ""
  const shown = visible.slice(0, 12)
  return ` (${columns === undefined ? "close columns" : "its columns"}: ${shown.join(", ")}${visible.length > shown.length ? ", ..." : ""})`
}

/**
 * The engine's message about a query, for a person. `columns`: the columns the part that failed
 * can read, when known (a better "did you mean" than the engine's few candidates); `tables`: the
 * pipelines' tables (`layer.table`), for a table the engine does not know.
 */
export const binderReason = (detail: string, columns?: ReadonlyArray<string>, tables: ReadonlyArray<string> = []): BinderReason => {
  const lines = withoutSql(detail)
  const first = lines[0] ?? detail
  const column =
    /Referenced column "([^"]+)" not found/.exec(first) ??
    /Referenced column (\S+) not found/.exec(first) ??
    /does not have a column named "([^"]+)"/.exec(first) ??
    /Column "([^"]+)" in (?:EXCLUDE|REPLACE|RENAME) list not found/.exec(first)
  if (column !== null) {
    const name = column[1]!
    return { message: `column "${name}" does not exist${columnHint(name, columns, detail)}`, token: name }
  }
  const catalog = /^Catalog Error: (.+?) with name (\S+) does not exist!?/.exec(first)
  // `a ||` is read as a postfix operator that does not exist.
  const postfix = catalog === null ? null : /^(.+)__postfix$/.exec(catalog[2]!)
  if (postfix !== null) return { message: `syntax error: nothing after ${postfix[1]} (the expression ends too early)`, token: undefined }
  if (catalog !== null) {
    const kind = catalog[1]!.toLowerCase().replace(/^scalar /, "")
    const name = catalog[2]!.replace(/^"|"$/g, "")
    if (kind === "table") {
      // The engine's suggestion has no layer; the pipelines' tables do.
      const table = closest(
        name,
        tables.map((t) => t.split(".").at(-1)!)
      )
      const hint = table === undefined ? "" : `; did you mean {{ ${tables.find((t) => t.endsWith(`.${table}`))} }}?`
      return { message: `table "${name}" does not exist${hint} (a pipeline's tables are read as {{ layer.table }})`, token: name }
    }
    const suggested = /Did you mean "([^"]+)"/.exec(detail)?.[1]
    const hint = suggested === undefined ? "" : `; did you mean ${suggested}?`
    return { message: `${kind} "${name}" does not exist${hint}`, token: name }
  }
  const syntax = /^Parser Error: (syntax error at or near "([^"]*)")/.exec(first)
  if (syntax !== null) return { message: syntax[1]!, token: syntax[2]! }
  if (/^Parser Error: syntax error at end of input/.test(first))
    return { message: "syntax error: the expression ends too early (an unclosed parenthesis or quote, or a missing operand?)", token: undefined }
  const signature = /^Binder Error: No function matches the given name and argument types '(([^'(]+)\([^']*\))'/.exec(first)
  if (signature !== null) {
    const takes = lines
      .map((l) => l.trim())
      .filter((l) => l.startsWith(`${signature[2]}(`))
      .map((l) => l.replace(/ -> .*$/, ""))
    const shown = takes.slice(0, 4)
    return {
      message: `${signature[2]}() takes other types than ${signature[1]}${shown.length > 0 ? ` (it takes ${shown.join(", ")}${takes.length > shown.length ? ", ..." : ""})` : ""}; cast the argument`,
      token: signature[2]!
    }
  }
  const grouped = /^Binder Error: column "([^"]+)" must appear in the GROUP BY clause/.exec(first)
  if (grouped !== null) {
    return { message: `column "${grouped[1]}" is neither grouped by nor inside an aggregate function (such as sum, count or any_value)`, token: grouped[1]! }
  }
  return { message: lines.join("; ").replace(/\s+/g, " ").trim(), token: undefined }
}
