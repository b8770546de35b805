/**
 * The Spark SQL dialect, for a Databricks SQL warehouse: Delta tables under Unity Catalog with
 * three-level names `catalog.schema.table`, one schema per layer (`<prefix>bronze`, ...) and the
 * run history and scratch tables in `<prefix>_medallion`. Every Databricks spelling lives here;
 * what the Statement Execution API does with the text is the executor's business.
 *
 * Where Spark SQL has no direct equivalent of a DuckDB construct:
 * - `* REPLACE` / `* RENAME` do not exist: the column is taken out with `* EXCEPT` and added at
 *   the end, so a replaced or renamed column moves to the end of the row.
 * - `* EXCEPT` fails on a column that does not exist, and a column cannot be "added or replaced"
 *   without knowing the input's columns. Both go through a NATURAL LEFT JOIN with a one-row
 *   relation of NULLs that always shares a synthetic key column: every named column then exists
 *   exactly once (the input's value when it had one, NULL otherwise) and can be excepted.
 * - A correlated NOT EXISTS is only allowed in WHERE/HAVING: `relationships` counts matches with an
 *   aggregated scalar subquery instead.
 * - There are no session temp tables over the stateless Statement Execution API: stage tables
 *   are Delta tables in the `_medallion` schema, dropped after each table's run.
 * - CSV is read with mode DROPMALFORMED (a line with the wrong number of fields is dropped by the
 *   reader; Spark keeps no rejects table with line numbers as DuckDB does).
 * - INSERT OVERWRITE DIRECTORY has no partitioning: partitioned exports are written unpartitioned.
 */
import type { Layer, SourceFormat } from "../spec/Pipeline.ts"
import type { Dialect, Literal, ReadOptions } from "./Dialect.ts"

export interface SparkOptions {
  /** Unity Catalog catalog holding the schemas, e.g. main. */
  readonly catalog: string
  /** Prepended to every schema name: "" gives bronze, silver, gold and _medallion. */
  readonly schemaPrefix?: string | undefined
}

/** `name` quoted for Spark SQL (backticks; a backtick inside is doubled). */
export const quoteSpark = (identifier: string) => `\`${identifier.replaceAll("`", "``")}\``

/** A Spark SQL string literal: backslash escapes are on by default, so backslashes and quotes are escaped. */
export const literalSpark = (value: Literal): string =>
  value === null ? "NULL" : typeof value === "string" ? `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'` : String(value)

/** Spark has no VARCHAR without a length; text is STRING. */
const sparkType = (type: string) => (/^\s*(varchar|text)\s*$/i.test(type) ? "STRING" : type)

// time_bucket's origin in DuckDB for intervals without months: Monday 2000-01-03 00:00:00 UTC.
const bucketOrigin = 946_857_600_000_000
const unitMicros: ReadonlyArray<readonly [RegExp, number]> = [
  [/^(ms|millis?|milliseconds?)$/, 1_000],
  [/^(s|secs?|seconds?)$/, 1_000_000],
  [/^(m|mins?|minutes?)$/, 60_000_000],
  [/^(h|hrs?|hours?)$/, 3_600_000_000],
  [/^(d|days?)$/, 86_400_000_000],
  [/^(w|weeks?)$/, 604_800_000_000]
]
/** "1 day", "15 minutes" as microseconds (the compiler has normalized the text). */
const micros = (every: string): number => {
  const m = /^(\d+)\s*([a-z]+)$/i.exec(every.trim())
  const unit = m === null ? undefined : unitMicros.find(([p]) => p.test(m[2]!.toLowerCase()))
  return m === null || unit === undefined ? 86_400_000_000 : Number(m[1]) * unit[1]
}

/** Key shared by both sides of the NATURAL LEFT JOIN, so the join never degenerates into a cross join. */
const KEY = "__medallion_k"
/** `from` with each of `columns` present exactly once: its own value, or NULL when it had none. */
const ensureColumns = (from: string, columns: ReadonlyArray<string>) => {
  const q = quoteSpark
  return `(SELECT * FROM (SELECT *, 0 AS ${q(KEY)} FROM ${from}) AS ${q("__medallion_have")} NATURAL LEFT JOIN (SELECT ${[KEY, ...columns]
    .map((c) => `NULL AS ${q(c)}`)
    .join(", ")}) AS ${q("__medallion_absent")})`
}

const readOptions = (format: SourceFormat, o: ReadOptions): ReadonlyArray<readonly [string, Literal]> => {
  switch (format) {
    case "csv":
      return [
        ["format", "csv"],
        ["header", o.header ?? true],
        ...(o.delimiter === undefined ? [] : [["sep", o.delimiter] as const]),
        ...(o.quote === undefined ? [] : [["quote", o.quote] as const]),
        ...(o.escape === undefined ? [] : [["escape", o.escape] as const]),
        ["inferColumnTypes", o.inferTypes === true],
        ["mode", "DROPMALFORMED"]
      ]
    case "json":
      return [
        ["format", "json"],
        ["multiLine", true]
      ]
    case "ndjson":
      return [["format", "json"]]
    case "parquet":
      return [["format", "parquet"]]
  }
}

/** Glob metacharacters in a file name, escaped for read_files. */
const globEscape = (text: string) => text.replace(/[\\{}[\]*?,]/g, (c) => `\\${c}`)

/**
 * One read_files path for a list of files: the file itself, or their common directory with a
 * `{a,b}` alternation of the paths under it.
 */
export const filesPattern = (files: ReadonlyArray<string>): string => {
  if (files.length <= 1) return files[0] ?? ""
  const split = files.map((f) => f.split("/"))
  let common = 0
  while (split.every((parts) => common < parts.length - 1 && parts[common] === split[0]![common])) common++
  const dir = split[0]!.slice(0, common).join("/")
  return `${dir}/{${split.map((parts) => globEscape(parts.slice(common).join("/"))).join(",")}}`
}

/** The Spark SQL dialect for a catalog and schema prefix. */
export const spark = (options: SparkOptions): Dialect => {
  const q = quoteSpark
  const literal = literalSpark
  const prefix = options.schemaPrefix ?? ""
  const schemaOf = (layer: Layer | "_medallion") => `${prefix}${layer}`
  const catalog = q(options.catalog)
  const table = (layer: Layer | "_medallion", name: string) => `${catalog}.${q(schemaOf(layer))}.${q(name)}`
  const infoSchema = (view: string) => `${catalog}.information_schema.${view}`
  const starExcept = (columns: ReadonlyArray<string>) => `* EXCEPT (${columns.map(q).join(", ")})`
  const cast = (expression: string, type: string) => `CAST(${expression} AS ${sparkType(type)})`
  const emptyTextArray = "CAST(array() AS ARRAY<STRING>)"
  return {
    name: "spark",
    quote: q,
    table,
    schemaOf,
    tempTable: (name) => table("_medallion", name),
    literal,
    starExcept,
    columnsExcept: (from, columns, extra) => `SELECT ${starExcept([KEY, ...columns])}, ${extra} FROM ${ensureColumns(from, columns)}`,
    starReplace: (replacements) => `${starExcept(replacements.map(([c]) => c))}, ${replacements.map(([c, e]) => `${e} AS ${q(c)}`).join(", ")}`,
    starRename: (renames) => `${starExcept(renames.map(([from]) => from))}, ${renames.map(([from, to]) => `${q(from)} AS ${q(to)}`).join(", ")}`,
    firstPerKey: (query, window) =>
      `SELECT ${starExcept(["__medallion_rn"])} FROM (SELECT *, row_number() OVER (${window}) AS ${q("__medallion_rn")} FROM (${query}) AS r) AS n WHERE ${q("__medallion_rn")} = 1`,
    // struct(*) is the whole row (structs compare field by field): the last tie-break. Without a
    // partition, ORDER BY ... LIMIT lets Spark keep n rows per task instead of sorting every row.
    firstRows: (query, { partition, orderBy, n, withTies }) => {
      const row = "__medallion_row"
      const rank = "__medallion_rank"
      const over = (order: ReadonlyArray<string>) => `${partition.length > 0 ? `PARTITION BY ${partition.join(", ")} ` : ""}ORDER BY ${order.join(", ")}`
      if (withTies) {
        return `SELECT ${starExcept([rank])} FROM (SELECT *, rank() OVER (${over(orderBy)}) AS ${q(rank)} FROM (${query}) AS r) AS ranked WHERE ${q(rank)} <= ${n}`
      }
      const withRow = `SELECT *, struct(*) AS ${q(row)} FROM (${query}) AS r`
      if (partition.length === 0) {
        return `SELECT ${starExcept([row])} FROM (SELECT * FROM (${withRow}) AS w ORDER BY ${[...orderBy, q(row)].join(", ")} LIMIT ${n}) AS firsts`
      }
      return `SELECT ${starExcept([row, rank])} FROM (SELECT *, row_number() OVER (${over([...orderBy, q(row)])}) AS ${q(rank)} FROM (${withRow}) AS w) AS ranked WHERE ${q(rank)} <= ${n}`
    },
    withColumn: (from, column, expression) => `SELECT ${starExcept([KEY, column])}, ${expression} AS ${q(column)} FROM ${ensureColumns(from, [column])}`,
    cast,
    tryCast: (expression, type) => `TRY_CAST(${expression} AS ${sparkType(type)})`,
    sha256: (expression) => `sha2(CAST(${expression} AS STRING), 256)`,
    timeBucket: (every, expression) => {
      const width = micros(every)
      return `timestamp_micros(CAST(floor((unix_micros(CAST(${expression} AS TIMESTAMP)) - ${bucketOrigin}) / ${width}) AS BIGINT) * ${width} + ${bucketOrigin})`
    },
    textArray: (expressions) => (expressions.length === 0 ? emptyTextArray : `filter(array(${expressions.join(", ")}), x -> x IS NOT NULL)`),
    emptyTextArray,
    noTextArray: "CAST(NULL AS ARRAY<STRING>)",
    concatArrays: (a, b) => `concat(${a}, ${b})`,
    castFailureEntry: (column, value) => `${literal(column)} || chr(31) || CAST(${value} AS STRING)`,
    castFailureColumns: (array) => `array_sort(array_distinct(transform(${array}, e -> split_part(e, chr(31), 1))))`,
    // try_element_at: NULL past the end also with ANSI mode on (element_at would raise).
    firstCastFailure: (array) => `split_part(try_element_at(${array}, 1), chr(31), 1)`,
    castFailureValue: (array, name) => `nullif(array_join(transform(filter(${array}, e -> split_part(e, chr(31), 1) = ${literal(name)}), e -> split_part(e, chr(31), 2)), ''), '')`,
    castFailureValues: (from, marker, column) =>
      `SELECT DISTINCT split_part(e, chr(31), 2) AS value FROM (SELECT explode(${marker}) AS e FROM ${from}) AS entries WHERE split_part(e, chr(31), 1) = ${literal(column)} ORDER BY 1 LIMIT 5`,
    timestamp: (iso) => `CAST(${literal(iso)} AS TIMESTAMP)`,
    rejects: undefined,
    readFiles: (format, files, options, filenameColumn) =>
      `SELECT *, _metadata.file_path AS ${q(filenameColumn)} FROM read_files(${[
        literal(filesPattern(files)),
        ...readOptions(format, options).map(([key, value]) => `${key} => ${literal(value)}`)
      ].join(", ")})`,
    // A file's rows are numbered in file order within each task, and tasks in file order.
    rowPosition: "monotonically_increasing_id() + 1",
    presentIn: (from, pairs) => `(SELECT count(*) FROM ${from} r WHERE ${pairs.map(([f, v]) => `r.${q(f)} = ${v}`).join(" AND ")}) > 0`,
    missingIn: (from, field, value) => `(SELECT count(*) FROM ${from} r WHERE r.${q(field)} = ${value}) = 0`,
    listSchemas: `SELECT schema_name FROM ${infoSchema("schemata")}`,
    tablesIn: (layers) =>
      `SELECT CASE table_schema ${layers.map((l) => `WHEN ${literal(schemaOf(l))} THEN ${literal(l)}`).join(" ")} END || '.' || table_name AS id FROM ${infoSchema(
        "tables"
      )} WHERE table_schema IN (${layers.map((l) => literal(schemaOf(l))).join(", ")})`,
    viewsIn: (layer, names) =>
      `SELECT table_name FROM ${infoSchema("tables")} WHERE table_schema = ${literal(schemaOf(layer as Layer))} AND table_type = 'VIEW' AND table_name IN (${names.map(literal).join(", ")})`,
    columnsOf: (layer, name) =>
      `SELECT column_name, full_data_type AS column_type FROM ${infoSchema("columns")} WHERE table_schema = ${literal(schemaOf(layer as Layer))} AND table_name = ${literal(name)} ORDER BY ordinal_position`,
    describe: (query) => `DESCRIBE QUERY ${query}`,
    describeColumns: { name: "col_name", type: "data_type" },
    addColumn: (table, column, type) => `ALTER TABLE ${table} ADD COLUMN ${q(column)} ${type}`,
    merge: (table, query, keys, sequenceBy) =>
      `MERGE INTO ${table} AS t USING (${query}) AS s ON ${keys.map((k) => `t.${q(k)} = s.${q(k)}`).join(" AND ")}
      WHEN MATCHED${sequenceBy === undefined ? "" : ` AND s.${q(sequenceBy)} >= t.${q(sequenceBy)}`} THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *`,
    createTempTable: (name, query) => `CREATE OR REPLACE TABLE ${table("_medallion", name)} USING DELTA AS ${query}`,
    dropTempTable: (name) => `DROP TABLE IF EXISTS ${table("_medallion", name)}`,
    createTable: (name, query) => `CREATE OR REPLACE TABLE ${name} USING DELTA AS ${query}`,
    createTableIfMissing: (name, query) => `CREATE TABLE IF NOT EXISTS ${name} USING DELTA AS SELECT * FROM (${query}) LIMIT 0`,
    insertByName: (name, query) => `INSERT INTO ${name} BY NAME ${query}`,
    dropTable: (name) => `DROP TABLE IF EXISTS ${name}`,
    dropView: (name) => `DROP VIEW IF EXISTS ${name}`,
    // The new name is qualified like the old one: a rename never moves a table to another schema.
    renameTable: (from, toName) => `ALTER TABLE ${from} RENAME TO ${from.slice(0, from.lastIndexOf(".`") + 1)}${q(toName)}`,
    createOrReplaceView: (name, query) => `CREATE OR REPLACE VIEW ${name} AS ${query}`,
    createSchema: (layer) => `CREATE SCHEMA IF NOT EXISTS ${catalog}.${q(schemaOf(layer))}`,
    exportFile: (query, path, format) =>
      `INSERT OVERWRITE DIRECTORY ${literal(path)} USING ${format.toUpperCase()}${format === "csv" ? ` OPTIONS ('header' = 'true')` : ""} ${query}`,
    // Over the stateless Statement Execution API each statement commits on its own; see DatabricksExecutor.
    begin: "BEGIN TRANSACTION",
    commit: "COMMIT",
    rollback: "ROLLBACK"
  }
}
