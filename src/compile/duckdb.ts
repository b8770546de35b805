/** The DuckDB dialect. Every DuckDB-specific spelling lives here. */
import type { Dialect, Literal, ReadOptions } from "./Dialect.ts"

const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`
const literal = (value: Literal): string => (value === null ? "NULL" : typeof value === "string" ? `'${value.replaceAll("'", "''")}'` : String(value))
const list = (items: ReadonlyArray<string>) => `[${items.join(", ")}]`

// Only what the user set: DuckDB's sniffer detects the dialect more robustly than fixed defaults,
// also around malformed lines.
const csvOptions = (o: ReadOptions): ReadonlyArray<string> => [
  `header = ${o.header ?? true}`,
  ...(o.delimiter === undefined ? [] : [`delim = ${literal(o.delimiter)}`]),
  ...(o.quote === undefined ? [] : [`quote = ${literal(o.quote)}`]),
  ...(o.escape === undefined ? [] : [`escape = ${literal(o.escape)}`]),
  ...(o.inferTypes === true ? [] : ["all_varchar = true"]),
  ...(o.maxLineBytes === undefined ? [] : [`max_line_size = ${o.maxLineBytes}`])
]

export const duckdb: Dialect = {
  name: "duckdb",
  quote,
  table: (layer, name) => `${quote(layer)}.${quote(name)}`,
  schemaOf: (layer) => layer,
  tempTable: quote,
  literal,
  starExcept: (columns) => `* EXCLUDE (${columns.map(quote).join(", ")})`,
  columnsExcept: (from, columns, extra) => `SELECT COLUMNS(lambda c: c NOT IN (${columns.map(literal).join(", ")})), ${extra} FROM ${from}`,
  starReplace: (replacements) => `* REPLACE (${replacements.map(([c, e]) => `${e} AS ${quote(c)}`).join(", ")})`,
  starRename: (renames) => `* RENAME (${renames.map(([from, to]) => `${quote(from)} AS ${quote(to)}`).join(", ")})`,
  // DuckDB plans QUALIFY row_number() = 1 as a grouped arg_max, without sorting every row.
  firstPerKey: (query, window) => `SELECT * FROM (${query}) AS r QUALIFY row_number() OVER (${window}) = 1`,
  // A table's alias used as a column is its whole row, a struct (compared field by field): the last
  // tie-break. Without a partition, ORDER BY ... LIMIT runs as a top-n heap instead of a sort.
  firstRows: (query, { partition, orderBy, n, withTies }) => {
    const row = quote("__medallion_row")
    const over = (order: ReadonlyArray<string>) => `${partition.length > 0 ? `PARTITION BY ${partition.join(", ")} ` : ""}ORDER BY ${order.join(", ")}`
    if (withTies) return `SELECT * FROM (${query}) AS r QUALIFY rank() OVER (${over(orderBy)}) <= ${n}`
    if (partition.length === 0) return `SELECT * FROM (${query}) AS ${row} ORDER BY ${[...orderBy, row].join(", ")} LIMIT ${n}`
    return `SELECT * FROM (${query}) AS ${row} QUALIFY row_number() OVER (${over([...orderBy, row])}) <= ${n}`
  },
  withColumn: (from, column, expression) => `SELECT COLUMNS(lambda c: c <> ${literal(column)}), ${expression} AS ${quote(column)} FROM ${from}`,
  cast: (expression, type) => `CAST(${expression} AS ${type})`,
  tryCast: (expression, type) => `TRY_CAST(${expression} AS ${type})`,
  sha256: (expression) => `sha256(CAST(${expression} AS VARCHAR))`,
  timeBucket: (every, expression) => `time_bucket(INTERVAL ${literal(every)}, ${expression})`,
  textArray: (expressions) => `list_filter(${list(expressions)}, lambda x: x IS NOT NULL)`,
  emptyTextArray: "CAST([] AS VARCHAR[])",
  noTextArray: "CAST(NULL AS VARCHAR[])",
  concatArrays: (a, b) => `list_concat(${a}, ${b})`,
  castFailureEntry: (column, value) => `${literal(column)} || chr(31) || CAST(${value} AS VARCHAR)`,
  castFailureColumns: (array) => `list_sort(list_distinct(list_transform(${array}, lambda e: split_part(e, chr(31), 1))))`,
  firstCastFailure: (array) => `split_part(${array}[1], chr(31), 1)`,
  castFailureValue: (array, name) =>
    `nullif(array_to_string(list_transform(list_filter(${array}, lambda e: split_part(e, chr(31), 1) = ${literal(name)}), lambda e: split_part(e, chr(31), 2)), ''), '')`,
  castFailureValues: (from, marker, column) =>
    `SELECT DISTINCT split_part(e, chr(31), 2) AS value FROM (SELECT unnest(${marker}) AS e FROM ${from}) WHERE split_part(e, chr(31), 1) = ${literal(column)} ORDER BY 1 LIMIT 5`,
  timestamp: (iso) => `CAST(${literal(iso)} AS TIMESTAMPTZ)`,
  rejects: {
    // The reader can report one line more than once (one row per error): one row per line here. Its
    // csv_line can start with the line breaks before the line.
    rejectedLines: (rejects) =>
      `SELECT s.file_path AS source_file, e.line AS line, string_agg(DISTINCT e.error_type, ', ') AS error_type,
         string_agg(DISTINCT e.error_message, '; ') AS error_message, ltrim(any_value(e.csv_line), chr(13) || chr(10)) AS raw_line, min(e.byte_position) AS byte_position
       FROM ${quote(rejects.table)} e JOIN ${quote(rejects.scan)} s USING (scan_id, file_id) GROUP BY 1, 2`,
    bytesType: "BLOB",
    fileBytes: (path) => `SELECT content FROM read_blob(${literal(path)})`,
    hexLines: (path, maxLineBytes) =>
      `SELECT line, unhex(hex) AS content FROM read_csv(${literal(path)}, header = false, auto_detect = false, delim = ',', quote = '', escape = '',
         columns = {'line': 'BIGINT', 'hex': 'VARCHAR'}, max_line_size = ${2 * maxLineBytes + 64})`,
    lineInOriginal: (line, removed) => `(${line} + len(list_filter(${list(removed.map((n, i) => String(n - i)))}, lambda p: p <= ${line})))`
  },
  readFiles: (format, files, options, filenameColumn, rejects) => {
    const paths = list(files.map(literal))
    const filename = `filename = ${literal(filenameColumn)}`
    switch (format) {
      case "csv":
        return `SELECT * FROM read_csv(${[
          paths,
          ...csvOptions(options),
          filename,
          ...(rejects ? [`store_rejects = true`, `rejects_table = ${literal(rejects.table)}`, `rejects_scan = ${literal(rejects.scan)}`] : [])
        ].join(", ")})`
      case "json":
        return `SELECT * FROM read_json(${paths}, format = 'array', ${filename})`
      case "ndjson":
        return `SELECT * FROM read_json(${paths}, format = 'newline_delimited', ${filename})`
      case "parquet":
        return `SELECT * FROM read_parquet(${paths}, ${filename}, union_by_name = true)`
    }
  },
  rowPosition: "row_number() OVER ()",
  presentIn: (table, pairs) => `EXISTS (SELECT 1 FROM ${table} r WHERE ${pairs.map(([f, v]) => `r.${quote(f)} = ${v}`).join(" AND ")})`,
  missingIn: (table, field, value) => `NOT EXISTS (SELECT 1 FROM ${table} r WHERE r.${quote(field)} = ${value})`,
  listSchemas: "SELECT schema_name FROM information_schema.schemata",
  // The catalog functions, not information_schema, whose views join them: for columns, it lists
  // every column of every table and view, the system's too, to answer for one.
  tablesIn: (layers) => {
    const inLayers = `database_name = current_database() AND schema_name IN (${layers.map(literal).join(", ")})`
    return `SELECT schema_name || '.' || table_name AS id FROM duckdb_tables() WHERE ${inLayers}
      UNION ALL SELECT schema_name || '.' || view_name FROM duckdb_views() WHERE ${inLayers}`
  },
  viewsIn: (layer, names) =>
    `SELECT view_name AS table_name FROM duckdb_views() WHERE database_name = current_database() AND schema_name = ${literal(layer)} AND view_name IN (${names.map(literal).join(", ")})`,
  // DESCRIBE looks one table up; information_schema.columns and duckdb_tables() list the whole
  // catalog for it (~5 and ~2 ms of CPU with a handful of tables, 48 and 35 ms with 2,000), and a
  // run asks three or four times per table. A missing table fails DESCRIBE with a catalog error,
  // which leaves an open transaction usable (test/executor/duckdb.test.ts).
  columnsOf: (layer, name) => `DESCRIBE ${quote(layer)}.${quote(name)}`,
  isMissingRelation: (detail) => /^Catalog Error: Table with name .* does not exist/.test(detail),
  describe: (query) => `DESCRIBE ${query}`,
  describeColumns: { name: "column_name", type: "column_type" },
  addColumn: (table, column, type) => `ALTER TABLE ${table} ADD COLUMN ${quote(column)} ${type}`,
  merge: (table, query, keys, sequenceBy) =>
    `MERGE INTO ${table} AS t USING (${query}) AS s ON ${keys.map((k) => `t.${quote(k)} = s.${quote(k)}`).join(" AND ")}
      WHEN MATCHED${sequenceBy === undefined ? "" : ` AND s.${quote(sequenceBy)} >= t.${quote(sequenceBy)}`} THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *`,
  createTempTable: (name, query) => `CREATE OR REPLACE TEMP TABLE ${quote(name)} AS ${query}`,
  dropTempTable: (name) => `DROP TABLE IF EXISTS temp.${quote(name)}`,
  createTable: (name, query) => `CREATE OR REPLACE TABLE ${name} AS ${query}`,
  createTableIfMissing: (name, query) => `CREATE TABLE IF NOT EXISTS ${name} AS SELECT * FROM (${query}) LIMIT 0`,
  insertByName: (name, query) => `INSERT INTO ${name} BY NAME ${query}`,
  dropTable: (name) => `DROP TABLE IF EXISTS ${name}`,
  dropView: (name) => `DROP VIEW IF EXISTS ${name}`,
  renameTable: (from, toName) => `ALTER TABLE ${from} RENAME TO ${quote(toName)}`,
  createOrReplaceView: (name, query) => `CREATE OR REPLACE VIEW ${name} AS ${query}`,
  createSchema: (schema) => `CREATE SCHEMA IF NOT EXISTS ${quote(schema)}`,
  exportFile: (query, path, format, partitionBy) =>
    `COPY (${query}) TO ${literal(path)} (FORMAT ${format}${format === "csv" ? ", HEADER true" : ""}${
      partitionBy.length > 0 ? `, PARTITION_BY (${partitionBy.map(quote).join(", ")}), OVERWRITE true` : ""
    })`,
  begin: "BEGIN TRANSACTION",
  commit: "COMMIT",
  rollback: "ROLLBACK"
}
