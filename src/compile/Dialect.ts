/**
 * What differs between SQL engines, as data and small functions. The compiler builds every
 * statement through a Dialect and never assumes one engine: duckdb.ts (embedded DuckDB) and
 * spark.ts (Spark SQL on a Databricks SQL warehouse, Delta tables under Unity Catalog).
 */
import type { Layer, SourceFormat } from "../spec/Pipeline.ts"

export type Literal = string | number | boolean | null

export interface ReadOptions {
  readonly delimiter?: string | undefined
  readonly header?: boolean | undefined
  readonly quote?: string | undefined
  readonly escape?: string | undefined
  readonly inferTypes?: boolean | undefined
  /** CSV: the longest line the reader takes, in bytes. */
  readonly maxLineBytes?: number | undefined
}

/** The scratch tables in which a CSV reader keeps the lines it rejects, and the scans that read them. */
export interface RejectsTables {
  readonly table: string
  readonly scan: string
}

/** SQL for lines a CSV reader sets aside (DuckDB keeps them; Spark's reader drops them). */
export interface RejectsSql {
  /** Query over readFiles' rejects tables: source_file (the path read), line, error_type, error_message, raw_line, byte_position (1-based). */
  readonly rejectedLines: (tables: RejectsTables) => string
  /** The type of raw bytes. */
  readonly bytesType: string
  /** Query: one row, `content`, the bytes of a file. */
  readonly fileBytes: (path: string) => string
  /** Query: rows (`line`, `content`) from a file of `line,hex` rows. */
  readonly hexLines: (path: string, maxLineBytes: number) => string
  /**
   * `line`, numbered in a copy of a file without some lines, renumbered as in the file: `removed`
   * are the removed lines' numbers in the file, ascending.
   */
  readonly lineInOriginal: (line: string, removed: ReadonlyArray<number>) => string
}

export interface Dialect {
  readonly name: "duckdb" | "spark"
  /** A quoted identifier (column, table or schema name). */
  readonly quote: (identifier: string) => string
  /** A qualified table name for a layer's table, e.g. "silver"."orders". */
  readonly table: (layer: Layer | "_medallion", name: string) => string
  /** The (unquoted) schema that holds a layer's tables, e.g. silver, or shop_silver with a prefix. */
  readonly schemaOf: (layer: Layer | "_medallion") => string
  /** A reference to a scratch table made by createTempTable (a stage of one table's run). */
  readonly tempTable: (name: string) => string
  readonly literal: (value: Literal) => string
  /** Select-list over `*` that leaves out some columns. */
  readonly starExcept: (columns: ReadonlyArray<string>) => string
  /** Query: all columns of `from` except these (whether or not they exist), then the `extra` select items. */
  readonly columnsExcept: (from: string, columns: ReadonlyArray<string>, extra: string) => string
  /** Select-list over `*` with some columns replaced in place: [column, expression]. */
  readonly starReplace: (replacements: ReadonlyArray<readonly [string, string]>) => string
  /** Select-list over `*` with columns renamed: [old, new]. */
  readonly starRename: (renames: ReadonlyArray<readonly [string, string]>) => string
  /** Query over `from` that sets a column, adding it or replacing one of that name. */
  readonly withColumn: (from: string, column: string, expression: string) => string
  /** The rows of `query` that come first in their partition of `window` (`PARTITION BY ... ORDER BY ...`). */
  readonly firstPerKey: (query: string, window: string) => string
  /**
   * The first `n` rows of `query` by `orderBy`, per partition when `partition` has expressions:
   * exactly n (fewer when there are fewer), rows tied in `orderBy` ordered by their whole row, so
   * the choice is the same on every run; or, `withTies`, every row that ranks n or better.
   */
  readonly firstRows: (
    query: string,
    options: {
      readonly partition: ReadonlyArray<string>
      readonly orderBy: ReadonlyArray<string>
      readonly n: number
      readonly withTies: boolean
    }
  ) => string
  readonly cast: (expression: string, type: string) => string
  /** A cast that gives NULL instead of failing. */
  readonly tryCast: (expression: string, type: string) => string
  /** Hex sha256 of the text of a value. */
  readonly sha256: (expression: string) => string
  /** Start of the fixed-size interval (`every`, e.g. "1 day") that the timestamp falls in. */
  readonly timeBucket: (every: string, expression: string) => string
  /** An array of the non-null values of some text expressions. */
  readonly textArray: (expressions: ReadonlyArray<string>) => string
  readonly emptyTextArray: string
  /** A NULL text array: what a marker holds until a step sets it, so that most rows store nothing. */
  readonly noTextArray: string
  readonly concatArrays: (a: string, b: string) => string
  /** A cast-failure marker entry: the column name and the value that did not cast. */
  readonly castFailureEntry: (column: string, value: string) => string
  /** The distinct column names of an array of cast-failure entries. */
  readonly castFailureColumns: (array: string) => string
  /** The name of the first entry of a cast-failure array (the first cast that failed), or NULL. */
  readonly firstCastFailure: (array: string) => string
  /** The value of the cast-failure entry named `name` in `array` (NULL when it has none). */
  readonly castFailureValue: (array: string, name: string) => string
  /** Up to 5 distinct values of `column` that failed to cast, from the entries in `marker` of `from`. */
  readonly castFailureValues: (from: string, marker: string, column: string) => string
  readonly timestamp: (iso: string) => string
  /** How the CSV reader's malformed lines are kept aside (DuckDB), or undefined (Spark drops them). */
  readonly rejects: RejectsSql | undefined
  /** A query reading files; `filenameColumn` receives each row's file path. */
  readonly readFiles: (format: SourceFormat, files: ReadonlyArray<string>, options: ReadOptions, filenameColumn: string, rejects: RejectsTables | undefined) => string
  /**
   * The position of a row in the file a single-file readFiles query reads (1-based on DuckDB,
   * where a window with an empty OVER clause keeps the scan's order; on Spark an id that orders
   * the rows of one file as they stand in it).
   */
  readonly rowPosition: string
  /** Predicate: some row of `table` has each field equal to its value ([field, value expression] pairs). */
  readonly presentIn: (table: string, pairs: ReadonlyArray<readonly [string, string]>) => string
  /** Predicate: no row of `table` has `field` equal to the value (the key is missing there). */
  readonly missingIn: (table: string, field: string, value: string) => string
  /** Query: schema_name of every schema (compare with schemaOf). */
  readonly listSchemas: string
  /** Query: `id` ("layer.name") of every table and view in these layers. */
  readonly tablesIn: (layers: ReadonlyArray<Layer>) => string
  /** Query: table_name of the views among `names` in a layer. */
  readonly viewsIn: (layer: string, names: ReadonlyArray<string>) => string
  /**
   * Query: column_name and column_type of a table or view, in order. A missing one gives no rows, or
   * fails with an error isMissingRelation recognises (runtime/catalog.ts reads either as no columns).
   */
  readonly columnsOf: (layer: string, name: string) => string
  /** Whether columnsOf failed (with this message) because the table or view does not exist. */
  readonly isMissingRelation?: ((detail: string) => boolean) | undefined
  /** Query: the columns of a query's result, named as describeColumns says. */
  readonly describe: (query: string) => string
  /** The columns of describe's rows that hold a column's name and type. */
  readonly describeColumns: { readonly name: string; readonly type: string }
  readonly addColumn: (table: string, column: string, type: string) => string
  /** Upserts the query's rows by key; with a sequenceBy column, a row replaces the stored one only if not older. */
  readonly merge: (table: string, query: string, keys: ReadonlyArray<string>, sequenceBy: string | undefined) => string
  readonly createTempTable: (name: string, query: string) => string
  readonly dropTempTable: (name: string) => string
  readonly createTable: (name: string, query: string) => string
  /** Creates an empty table shaped like the query if none exists. */
  readonly createTableIfMissing: (name: string, query: string) => string
  readonly insertByName: (name: string, query: string) => string
  readonly dropTable: (name: string) => string
  readonly dropView: (name: string) => string
  readonly renameTable: (from: string, toName: string) => string
  readonly createOrReplaceView: (name: string, query: string) => string
  readonly createSchema: (layer: Layer | "_medallion") => string
  readonly exportFile: (query: string, path: string, format: "parquet" | "csv", partitionBy: ReadonlyArray<string>) => string
  readonly begin: string
  readonly commit: string
  readonly rollback: string
}
