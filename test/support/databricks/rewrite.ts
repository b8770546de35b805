/**
 * STAND-IN ONLY. Translates the Spark SQL that medallion sends to a Databricks SQL warehouse into
 * DuckDB SQL, so that the local stand-in server (server.ts) can run it on a real DuckDB. It is
 * not a Spark SQL implementation: it knows the shapes src/compile/spark.ts and the metadata store
 * produce, plus the plain SQL the example pipelines write.
 *
 * The rewrites, in full (the README lists them too):
 *  1. `identifier` (backticks) becomes "identifier"; Spark string literals ('...' and "..." with
 *     backslash escapes) become standard '...' literals.
 *  2. `* EXCEPT (cols)` becomes `* EXCLUDE (cols)`.
 *  3. `USING DELTA` is dropped (tables are DuckDB tables).
 *  4. `ARRAY<T>` types become `T[]` (STRING as VARCHAR).
 *  5. Function names: array( -> list_value(, transform( -> list_transform(, explode( -> unnest(,
 *     struct(*) (the whole row) -> struct_pack(*COLUMNS(*));
 *     sha2, size, unix_micros, timestamp_micros, monotonically_increasing_id, array_join and try_element_at are
 *     DuckDB macros created at start (sha256, len, epoch_us, make_timestamp, row_number() OVER () - 1,
 *     array_to_string, a list index).
 *  6. `catalog.information_schema.view` becomes DuckDB's information_schema.view filtered to
 *     that catalog; the column full_data_type reads data_type.
 *  7. `DESCRIBE QUERY q` becomes a SELECT over `DESCRIBE q` with Databricks' column names
 *     (col_name, data_type, comment).
 *  8. `ALTER TABLE c.s.a RENAME TO c.s.b` keeps only the last part of the new name.
 *  9. `INSERT OVERWRITE DIRECTORY 'p' USING FORMAT [OPTIONS (...)] q` becomes
 *     `COPY (q) TO 'p/part-00000.format'`.
 * 10. `SELECT *, _metadata.file_path AS x FROM read_files('glob', k => v, ...)` becomes
 *     read_csv / read_json / read_parquet over the files the glob names, with `filename = 'x'`;
 *     CSV mode DROPMALFORMED maps to ignore_errors, inferColumnTypes => false to all_varchar.
 * 11. Named parameter markers `:name` become typed literals, CAST('value' AS TYPE) (or NULL).
 */

export type Parameter = { readonly name: string; readonly value?: string | null | undefined; readonly type?: string | undefined }

/** Macros that stand in for Spark functions DuckDB lacks; run once per database. */
export const macros: ReadonlyArray<string> = [
  "CREATE OR REPLACE MACRO sha2(x, n) AS CASE WHEN n = 256 THEN sha256(x) END",
  "CREATE OR REPLACE MACRO size(x) AS len(x)",
  "CREATE OR REPLACE MACRO unix_micros(x) AS epoch_us(x)",
  "CREATE OR REPLACE MACRO timestamp_micros(x) AS make_timestamp(x)",
  // Spark's ids follow the file's order; so does a window with an empty OVER clause in DuckDB.
  "CREATE OR REPLACE MACRO monotonically_increasing_id() AS row_number() OVER () - 1",
  "CREATE OR REPLACE MACRO array_join(a, s) AS array_to_string(a, s)",
  // Spark's try_element_at is 1-based and NULL past the end, as DuckDB's list index is.
  "CREATE OR REPLACE MACRO try_element_at(a, i) AS a[i]"
]

export class RewriteError extends Error {}

type Kind = "ws" | "comment" | "string" | "ident" | "word" | "number" | "param" | "punct"
interface Token {
  readonly kind: Kind
  /** DuckDB text. */
  text: string
  /** For strings, identifiers and words: the value (unquoted, unescaped). */
  readonly value: string
}

const sparkEscapes: Readonly<Record<string, string>> = { n: "\n", t: "\t", r: "\r", "0": "\0", b: "\b", Z: "\u001a" }
const duckString = (value: string) => `'${value.replaceAll("'", "''")}'`
const duckIdent = (value: string) => `"${value.replaceAll('"', '""')}"`

const tokenize = (sql: string): Array<Token> => {
  const tokens: Array<Token> = []
  let i = 0
  while (i < sql.length) {
    const c = sql[i]!
    if (/\s/.test(c)) {
      let j = i
      while (j < sql.length && /\s/.test(sql[j]!)) j++
      tokens.push({ kind: "ws", text: sql.slice(i, j), value: " " })
      i = j
    } else if (sql.startsWith("--", i)) {
      const end = sql.indexOf("\n", i)
      const j = end === -1 ? sql.length : end
      tokens.push({ kind: "comment", text: sql.slice(i, j), value: "" })
      i = j
    } else if (sql.startsWith("/*", i)) {
      const end = sql.indexOf("*/", i + 2)
      const j = end === -1 ? sql.length : end + 2
      tokens.push({ kind: "comment", text: sql.slice(i, j), value: "" })
      i = j
    } else if (c === "'" || c === '"') {
      let value = ""
      let j = i + 1
      for (; j < sql.length && sql[j] !== c; j++) {
        if (sql[j] === "\\" && j + 1 < sql.length) {
          const e = sql[++j]!
          // \% and \_ keep their backslash (LIKE patterns), as in Spark.
          value += e === "%" || e === "_" ? `\\${e}` : (sparkEscapes[e] ?? e)
        } else value += sql[j]
      }
      if (j >= sql.length) throw new RewriteError(`unterminated string literal at offset ${i}`)
      tokens.push({ kind: "string", text: duckString(value), value })
      i = j + 1
    } else if (c === "`") {
      let value = ""
      let j = i + 1
      for (; j < sql.length; j++) {
        if (sql[j] === "`") {
          if (sql[j + 1] === "`") {
            value += "`"
            j++
          } else break
        } else value += sql[j]
      }
      tokens.push({ kind: "ident", text: duckIdent(value), value })
      i = j + 1
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j]!)) j++
      tokens.push({ kind: "word", text: sql.slice(i, j), value: sql.slice(i, j) })
      i = j
    } else if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(sql[i + 1] ?? ""))) {
      const m = /^(?:[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?[A-Za-z]*)/.exec(sql.slice(i))!
      tokens.push({ kind: "number", text: m[0], value: m[0] })
      i += m[0].length
    } else if (c === ":" && /[A-Za-z_]/.test(sql[i + 1] ?? "") && sql[i - 1] !== ":") {
      let j = i + 1
      while (j < sql.length && /[A-Za-z0-9_]/.test(sql[j]!)) j++
      tokens.push({ kind: "param", text: sql.slice(i, j), value: sql.slice(i + 1, j) })
      i = j
    } else {
      const two = sql.slice(i, i + 2)
      const op = ["->", "=>", "||", "<>", ">=", "<=", "!=", "::", "|>"].includes(two) ? two : c
      tokens.push({ kind: "punct", text: op, value: op })
      i += op.length
    }
  }
  return tokens
}

const isWord = (t: Token | undefined, ...words: ReadonlyArray<string>) => t !== undefined && t.kind === "word" && words.some((w) => w.toUpperCase() === t.value.toUpperCase())
const isPunct = (t: Token | undefined, p: string) => t !== undefined && t.kind === "punct" && t.value === p

/** Index of the next significant token at or after `i`. */
const next = (tokens: ReadonlyArray<Token>, i: number) => {
  while (i < tokens.length && (tokens[i]!.kind === "ws" || tokens[i]!.kind === "comment")) i++
  return i
}
/** Index of the previous significant token before `i`. */
const prev = (tokens: ReadonlyArray<Token>, i: number) => {
  i--
  while (i >= 0 && (tokens[i]!.kind === "ws" || tokens[i]!.kind === "comment")) i--
  return i
}
/** Index of the `)` matching the `(` at `open`. */
const closing = (tokens: ReadonlyArray<Token>, open: number) => {
  let depth = 0
  for (let i = open; i < tokens.length; i++) {
    if (isPunct(tokens[i], "(")) depth++
    else if (isPunct(tokens[i], ")") && --depth === 0) return i
  }
  throw new RewriteError("unbalanced parentheses")
}
const text = (tokens: ReadonlyArray<Token>) => tokens.map((t) => t.text).join("")

/** Expands one level of `{a,b}` alternation (backslash escapes glob characters). */
export const expandGlob = (pattern: string): ReadonlyArray<string> => {
  const unescapeGlob = (s: string) => s.replace(/\\(.)/g, "$1")
  let open = -1
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === "\\") i++
    else if (pattern[i] === "{") {
      open = i
      break
    }
  }
  if (open === -1) return [unescapeGlob(pattern)]
  const parts: Array<string> = []
  let current = ""
  let i = open + 1
  for (; i < pattern.length && pattern[i] !== "}"; i++) {
    if (pattern[i] === "\\") current += pattern[i]! + (pattern[++i] ?? "")
    else if (pattern[i] === ",") {
      parts.push(current)
      current = ""
    } else current += pattern[i]
  }
  parts.push(current)
  const head = pattern.slice(0, open)
  const tail = pattern.slice(i + 1)
  return parts.map((p) => unescapeGlob(head + p + tail))
}

/** The DuckDB reader call for a read_files call's arguments, with `filename = filenameColumn`. */
const readerFor = (args: ReadonlyArray<Array<Token>>, filenameColumn: string | undefined): string => {
  const [pathArg, ...rest] = args
  const path = pathArg?.filter((t) => t.kind !== "ws")
  if (path === undefined || path.length !== 1 || path[0]!.kind !== "string") throw new RewriteError("read_files needs a path literal first")
  const options = new Map<string, string>()
  for (const arg of rest) {
    const parts = arg.filter((t) => t.kind !== "ws")
    if (parts.length < 3 || !isPunct(parts[1], "=>")) throw new RewriteError(`read_files option not understood: ${text(arg)}`)
    options.set(
      parts[0]!.value.toLowerCase(),
      parts
        .slice(2)
        .map((t) => t.value)
        .join("")
    )
  }
  const files = `[${expandGlob(path[0]!.value).map(duckString).join(", ")}]`
  const filename = filenameColumn === undefined ? [] : [`filename = ${duckString(filenameColumn)}`]
  const format = options.get("format") ?? "csv"
  switch (format) {
    case "csv":
      return `read_csv(${[
        files,
        `header = ${options.get("header") ?? "false"}`,
        ...(options.has("sep") ? [`delim = ${duckString(options.get("sep")!)}`] : []),
        ...(options.has("quote") ? [`quote = ${duckString(options.get("quote")!)}`] : []),
        ...(options.has("escape") ? [`escape = ${duckString(options.get("escape")!)}`] : []),
        ...(options.get("infercolumntypes") === "false" ? ["all_varchar = true"] : []),
        ...(options.get("mode")?.toUpperCase() === "DROPMALFORMED" ? ["ignore_errors = true"] : []),
        ...filename
      ].join(", ")})`
    case "json":
      return `read_json(${[files, `format = ${options.get("multiline") === "true" ? "'array'" : "'newline_delimited'"}`, ...filename].join(", ")})`
    case "parquet":
      return `read_parquet(${[files, "union_by_name = true", ...filename].join(", ")})`
    default:
      throw new RewriteError(`read_files format ${format} is not supported by the stand-in`)
  }
}

/** Splits the tokens between `(` at open and its `)` into top-level comma-separated arguments. */
const splitArgs = (tokens: ReadonlyArray<Token>, open: number, close: number): Array<Array<Token>> => {
  const args: Array<Array<Token>> = [[]]
  let depth = 0
  for (let i = open + 1; i < close; i++) {
    const t = tokens[i]!
    if (isPunct(t, "(")) depth++
    if (isPunct(t, ")")) depth--
    if (depth === 0 && isPunct(t, ",")) args.push([])
    else args[args.length - 1]!.push(t)
  }
  return args
}

const infoSchemaCatalogColumn: Readonly<Record<string, string>> = { schemata: "catalog_name", tables: "table_catalog", columns: "table_catalog", views: "table_catalog" }

const sparkToDuckType = (type: string) => (type.toUpperCase() === "STRING" ? "VARCHAR" : type)

/** Spark SQL (as medallion writes it) to DuckDB SQL; throws RewriteError on what it cannot translate. */
export const rewrite = (sql: string, parameters: ReadonlyArray<Parameter> = []): string => {
  let tokens = tokenize(sql)
  const params = new Map(parameters.map((p) => [p.name, p]))

  // 11. Parameter markers.
  tokens = tokens.map((t) => {
    if (t.kind !== "param") return t
    const p = params.get(t.value)
    if (p === undefined) throw new RewriteError(`no value for parameter :${t.value}`)
    const literal = p.value === undefined || p.value === null ? "NULL" : duckString(p.value)
    return { kind: "string", text: `CAST(${literal} AS ${sparkToDuckType(p.type ?? "STRING")})`, value: p.value ?? "" }
  })

  // 7. DESCRIBE QUERY.
  const describe = /^\s*DESCRIBE\s+QUERY\s+([\s\S]*)$/i.exec(sql)
  if (describe !== null) {
    return `SELECT column_name AS col_name, column_type AS data_type, CAST(NULL AS VARCHAR) AS comment FROM (DESCRIBE ${rewrite(describe[1]!, parameters)})`
  }

  // 9. INSERT OVERWRITE DIRECTORY.
  const overwrite = /^\s*INSERT\s+OVERWRITE\s+DIRECTORY\s+('(?:[^'\\]|\\.)*')\s+USING\s+(\w+)(?:\s+OPTIONS\s*\([^)]*\))?\s+([\s\S]*)$/i.exec(sql)
  if (overwrite !== null) {
    const path = tokenize(overwrite[1]!)[0]!.value
    const format = overwrite[2]!.toLowerCase()
    return `COPY (${rewrite(overwrite[3]!, parameters)}) TO ${duckString(`${path}/part-00000.${format}`)} (FORMAT ${format}${format === "csv" ? ", HEADER true" : ""})`
  }
  if (/^\s*INSERT\s+OVERWRITE\b/i.test(sql)) throw new RewriteError("INSERT OVERWRITE is only supported for DIRECTORY")

  const out: Array<Token> = []
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!
    const after = next(tokens, i + 1)
    // 10. `, _metadata.file_path AS x` (with its comma) and the read_files call it belongs to.
    if (isWord(t, "_metadata")) {
      const dot = next(tokens, i + 1),
        field = next(tokens, dot + 1),
        as = next(tokens, field + 1),
        alias = next(tokens, as + 1)
      if (!isPunct(tokens[dot], ".") || !isWord(tokens[field], "file_path") || !isWord(tokens[as], "AS")) {
        throw new RewriteError("only `_metadata.file_path AS name` is supported by the stand-in")
      }
      const comma = prev(out, out.length)
      if (!isPunct(out[comma], ",")) throw new RewriteError("`_metadata.file_path` must follow `*,`")
      out.splice(comma)
      const fromAt = next(tokens, alias + 1)
      const call = next(tokens, fromAt + 1)
      if (!isWord(tokens[fromAt], "FROM") || !isWord(tokens[call], "read_files")) throw new RewriteError("`_metadata.file_path` is only supported over read_files")
      const open = next(tokens, call + 1)
      const close = closing(tokens, open)
      out.push({ kind: "ws", text: " ", value: " " }, { kind: "word", text: "FROM", value: "FROM" }, { kind: "ws", text: " ", value: " " })
      out.push({ kind: "word", text: readerFor(splitArgs(tokens, open, close), tokens[alias]!.value), value: "" })
      i = close
      continue
    }
    if (isWord(t, "read_files") && isPunct(tokens[after], "(")) {
      const close = closing(tokens, after)
      out.push({ kind: "word", text: readerFor(splitArgs(tokens, after, close), undefined), value: "" })
      i = close
      continue
    }
    // 2. * EXCEPT (
    if (isWord(t, "EXCEPT") && isPunct(out[prev(out, out.length)], "*") && isPunct(tokens[after], "(")) {
      out.push({ ...t, text: "EXCLUDE" })
      continue
    }
    // 3. USING DELTA
    if (isWord(t, "USING") && isWord(tokens[after], "DELTA")) {
      while (out.length > 0 && out[out.length - 1]!.kind === "ws") out.pop()
      i = after
      continue
    }
    // 4. ARRAY<T>
    if (isWord(t, "ARRAY") && isPunct(tokens[after], "<")) {
      const inner = next(tokens, after + 1)
      const close = next(tokens, inner + 1)
      if (!isPunct(tokens[close], ">")) throw new RewriteError("only ARRAY<type> of a simple type is supported")
      out.push({ kind: "word", text: `${sparkToDuckType(tokens[inner]!.value)}[]`, value: "" })
      i = close
      continue
    }
    // 5. Function names.
    if (isWord(t, "struct") && isPunct(tokens[after], "(") && isPunct(tokens[next(tokens, after + 1)], "*")) {
      const close = closing(tokens, after)
      if (close !== next(tokens, next(tokens, after + 1) + 1)) throw new RewriteError("only struct(*) of the whole row is supported")
      out.push({ kind: "word", text: "struct_pack(*COLUMNS(*))", value: "" })
      i = close
      continue
    }
    if (t.kind === "word" && isPunct(tokens[after], "(")) {
      const renamed = ({ array: "list_value", transform: "list_transform", explode: "unnest" } as Record<string, string>)[t.value.toLowerCase()]
      if (renamed !== undefined) {
        out.push({ ...t, text: renamed })
        continue
      }
    }
    // 6. catalog.information_schema.view
    if ((t.kind === "ident" || t.kind === "word") && isPunct(tokens[after], ".") && isWord(tokens[next(tokens, after + 1)], "information_schema")) {
      const schemaAt = next(tokens, after + 1)
      const dot = next(tokens, schemaAt + 1)
      const view = tokens[next(tokens, dot + 1)]!
      const column = infoSchemaCatalogColumn[view.value.toLowerCase()]
      if (!isPunct(tokens[dot], ".") || column === undefined) throw new RewriteError(`information_schema.${view.value} is not supported by the stand-in`)
      out.push({ kind: "word", text: `(SELECT * FROM information_schema.${view.value} WHERE ${column} = ${duckString(t.value)}) AS ${view.value}`, value: "" })
      i = next(tokens, dot + 1)
      continue
    }
    if (isWord(t, "full_data_type")) {
      out.push({ ...t, text: "data_type" })
      continue
    }
    // 8. RENAME TO c.s.b -> RENAME TO b
    if (isWord(t, "RENAME") && isWord(tokens[after], "TO")) {
      let j = next(tokens, after + 1)
      let last = j
      while (isPunct(tokens[next(tokens, j + 1)], ".")) {
        j = next(tokens, next(tokens, j + 1) + 1)
        last = j
      }
      out.push(t, { kind: "ws", text: " ", value: " " }, tokens[after]!, { kind: "ws", text: " ", value: " " }, tokens[last]!)
      i = last
      continue
    }
    out.push(t)
  }
  return text(out)
}
