/**
 * The bronze -> silver -> gold work every variant of the suite does, written once per variant:
 * the medallion pipeline (YAML), and the SQL a user would write by hand for the same tables.
 * The Polars variant (polars.ts) follows the same rules; the rules are in BENCHMARKS.md.
 *
 *   bronze.orders, bronze.customers   the CSV files as text, with _source_file and _ingested_at;
 *                                     malformed lines in bronze.orders__rejects
 *   silver.customers                  customer_id bigint, signup_date date, segment null -> consumer
 *   silver.orders                     dedupe on order_id (latest updated_at wins), casts (failures
 *                                     quarantined), status lower-cased, currency null -> USD,
 *                                     channel null -> web, order_date = CAST(ordered_at AS DATE);
 *                                     amount >= 0 and ordered_at not null, else quarantined
 *                                     (silver.orders__quarantine); customer_id not null, else dropped
 *   gold.daily_sales                  orders not cancelled, inner join to customers (segment), per
 *                                     (order_date, country, segment): orders, customers, revenue;
 *                                     exported to exports/daily_sales/daily_sales.parquet
 */

export const GOLD_TABLE = "daily_sales"
/** Where each variant writes the gold export, relative to its working directory. */
export const GOLD_EXPORT = `exports/${GOLD_TABLE}/${GOLD_TABLE}.parquet`

export interface EngineSettings {
  readonly threads: number
  /** A DuckDB memory_limit such as 4GB, or undefined for DuckDB's default (80% of RAM). */
  readonly memoryLimit: string | undefined
}

/** The pipeline, reading `data/orders.csv` and `data/customers.csv` (or .parquet) of the project. */
export const pipelineYaml = (format: "csv" | "parquet") => `version: 1
pipeline: perf
description: The performance suite's workload (bench/perf/workload.ts)
sources:
  order_files: { format: ${format}, path: data/orders.${format} }
  customer_files: { format: ${format}, path: data/customers.${format} }
bronze:
  orders: { from: order_files }
  customers: { from: customer_files }
silver:
  customers:
    from: bronze.customers
    transforms:
      - cast: { customer_id: bigint, signup_date: date }
      - fill_nulls: { segment: consumer }
  orders:
    from: bronze.orders
    transforms:
      - dedupe: { keys: [order_id], order_by: updated_at desc }
      - cast:
          columns: { order_id: bigint, customer_id: bigint, amount: "decimal(12,2)", ordered_at: timestamp, updated_at: timestamp }
          on_error: quarantine
      - lowercase: [status]
      - fill_nulls: { currency: USD, channel: web }
      - derive: { order_date: CAST(ordered_at AS DATE) }
    expect:
      - { name: non_negative_amount, check: amount >= 0, on_fail: quarantine }
      - { not_null: [ordered_at], on_fail: quarantine }
      - { not_null: [customer_id], on_fail: drop }
gold:
  ${GOLD_TABLE}:
    from: silver.orders
    transforms:
      - filter: status <> 'cancelled'
      - join: { to: silver.customers, on: [customer_id], how: inner, columns: [segment] }
      - aggregate:
          by: [order_date, country, segment]
          metrics:
            orders: count(*)
            customers: count(DISTINCT customer_id)
            revenue: sum(amount)
    targets:
      - { parquet: exports/${GOLD_TABLE}/ }
`

export const configYaml = (settings: EngineSettings) => `engine: duckdb
storage: ./.medallion
concurrency: 4
duckdb:
  path: ./.medallion/warehouse.duckdb
  threads: ${settings.threads}
${settings.memoryLimit === undefined ? "" : `  memory_limit: ${settings.memoryLimit}\n`}log_level: warn
`

const literal = (s: string) => `'${s.replaceAll("'", "''")}'`

export interface Statement {
  /** What the statement builds, for per-step timings. */
  readonly step: string
  readonly sql: string
}

/**
 * The hand-written warehouse: the SQL a user would write for the same tables, one statement per
 * table (plus a staging table so that silver and its quarantine come from one pass), no counts,
 * no bookkeeping. `lineage: false` leaves out _source_file and _ingested_at (for the profile).
 */
export const handWrittenSql = (input: {
  readonly orders: string
  readonly customers: string
  readonly format: "csv" | "parquet"
  readonly exportFile: string
  readonly lineage?: boolean
}): ReadonlyArray<Statement> => {
  const lineage = input.lineage ?? true
  const read = (file: string, rejects?: string) =>
    input.format === "parquet"
      ? `read_parquet([${literal(file)}]${lineage ? ", filename = '_source_file'" : ""})`
      : `read_csv([${literal(file)}], header = true, all_varchar = true${lineage ? ", filename = '_source_file'" : ""}${rejects === undefined ? "" : `, store_rejects = true, rejects_table = '${rejects}_errors', rejects_scan = '${rejects}_scans'`})`
  const ingested = lineage ? ", current_timestamp AS _ingested_at" : ""
  const castFailed = (column: string, type: string) => `CASE WHEN ${column} IS NOT NULL AND TRY_CAST(${column} AS ${type}) IS NULL THEN 'cast(${column})' END`
  const casts = { order_id: "BIGINT", customer_id: "BIGINT", amount: "DECIMAL(12,2)", ordered_at: "TIMESTAMP", updated_at: "TIMESTAMP" } as const
  return [
    ...["bronze", "silver", "gold"].map((schema) => ({ step: "schemas", sql: `CREATE SCHEMA IF NOT EXISTS ${schema}` })),
    { step: "bronze.orders", sql: `CREATE OR REPLACE TABLE bronze.orders AS SELECT *${ingested} FROM ${read(input.orders, input.format === "csv" ? "orders" : undefined)}` },
    ...(input.format === "csv"
      ? [
          {
            step: "bronze.orders__rejects",
            // The reader reports a line once per error it found in it: one row per line here.
            sql: `CREATE OR REPLACE TABLE bronze.orders__rejects AS
  SELECT s.file_path AS source_file, e.line, string_agg(DISTINCT e.error_type, ', ') AS error_type, any_value(e.csv_line) AS raw_line
  FROM orders_errors e JOIN orders_scans s USING (scan_id, file_id) GROUP BY 1, 2`
          }
        ]
      : []),
    { step: "bronze.customers", sql: `CREATE OR REPLACE TABLE bronze.customers AS SELECT *${ingested} FROM ${read(input.customers)}` },
    {
      step: "silver.customers",
      sql: `CREATE OR REPLACE TABLE silver.customers AS
  SELECT * REPLACE (CAST(customer_id AS BIGINT) AS customer_id, CAST(signup_date AS DATE) AS signup_date, coalesce(segment, 'consumer') AS segment)
  FROM bronze.customers`
    },
    {
      step: "silver.orders (stage)",
      sql: `CREATE OR REPLACE TEMP TABLE orders_checked AS
  WITH latest AS (
    SELECT * FROM bronze.orders QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC) = 1
  ), typed AS (
    SELECT * REPLACE (${Object.entries(casts)
      .map(([c, t]) => `TRY_CAST(${c} AS ${t}) AS ${c}`)
      .join(", ")},
        lower(status) AS status, coalesce(currency, 'USD') AS currency, coalesce(channel, 'web') AS channel),
      CAST(TRY_CAST(ordered_at AS TIMESTAMP) AS DATE) AS order_date,
      list_filter([${Object.entries(casts)
        .map(([c, t]) => castFailed(c, t))
        .join(", ")}], x -> x IS NOT NULL) AS cast_errors
    FROM latest
  )
  SELECT * EXCLUDE (cast_errors),
    list_concat(list_filter([CASE WHEN NOT coalesce(amount >= 0, false) THEN 'non_negative_amount' END,
      CASE WHEN ordered_at IS NULL THEN 'not_null(ordered_at)' END], x -> x IS NOT NULL), cast_errors) AS _expectations
  FROM typed`
    },
    {
      step: "silver.orders",
      sql: "CREATE OR REPLACE TABLE silver.orders AS SELECT * EXCLUDE (_expectations) FROM orders_checked WHERE len(_expectations) = 0 AND customer_id IS NOT NULL"
    },
    {
      step: "silver.orders__quarantine",
      sql: "CREATE OR REPLACE TABLE silver.orders__quarantine AS SELECT *, current_timestamp AS _quarantined_at FROM orders_checked WHERE len(_expectations) > 0"
    },
    { step: "drop stage", sql: "DROP TABLE orders_checked" },
    {
      step: `gold.${GOLD_TABLE}`,
      sql: `CREATE OR REPLACE TABLE gold.${GOLD_TABLE} AS
  SELECT o.order_date, o.country, c.segment, count(*) AS orders, count(DISTINCT o.customer_id) AS customers, sum(o.amount) AS revenue
  FROM silver.orders o JOIN silver.customers c USING (customer_id)
  WHERE o.status <> 'cancelled'
  GROUP BY ALL`
    },
    { step: "export", sql: `COPY gold.${GOLD_TABLE} TO ${literal(input.exportFile)} (FORMAT parquet)` }
  ]
}

/** The gold rows in one comparable shape, whatever types a variant wrote. */
export const normalizedGold = (parquetFile: string) =>
  `SELECT CAST(order_date AS DATE) AS order_date, CAST(country AS VARCHAR) AS country, CAST(segment AS VARCHAR) AS segment,
    CAST(orders AS BIGINT) AS orders, CAST(customers AS BIGINT) AS customers, CAST(revenue AS DECIMAL(18,2)) AS revenue
  FROM read_parquet(${literal(parquetFile)})`
