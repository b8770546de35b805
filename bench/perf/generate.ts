/**
 * Deterministic orders and customers for the performance suite, generated inside DuckDB
 * (generate_series with hash-based pseudo-random values, COPY TO) so that 100M rows take minutes,
 * not hours. No network, no randomness: the same size and generator version give the same bytes.
 *
 * Per size (order rows N, customers N / 10, at least 1,000):
 *   orders.parquet, orders.csv      order_id, customer_id, status, amount, currency, channel,
 *                                   country, ordered_at, updated_at (all text, as exported)
 *   customers.parquet, customers.csv
 *                                   customer_id, name, email, country, segment, signup_date
 *
 * Dirt, by construction (rates are exact up to rounding, positions pseudo-random):
 *   - 2% of order rows are duplicates: a later version of an earlier order (same order_id, a newer
 *     updated_at, possibly another status); updated_at never ties within an order_id;
 *   - 1% null customer_id, 0.5% null ordered_at, 0.5% null amount, 1% null currency and channel,
 *     1% null customer segment;
 *   - 0.5% negative amounts; 1 row in 20,000 has the amount "n/a" (fails a cast);
 *   - 0.2% of orders reference a customer id that does not exist;
 *   - status in mixed case (placed, Shipped, completed, CANCELLED, returned);
 *   - the CSV (not the Parquet file) ends with MALFORMED_LINES lines a reader must reject: too few
 *     columns, too many columns.
 *
 * Files land in `<dir>/<GENERATOR_VERSION>-<size>/` and are reused when `manifest.json` (written
 * last) is there. Usage: node bench/perf/generate.ts [--sizes 1m,10m] [--data-dir DIR]
 */
import { DuckDBInstance } from "@duckdb/node-api"
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"

/** Bump when the generated data changes: existing data directories are then not reused. */
export const GENERATOR_VERSION = "v1"

export const defaultDataDir = () => process.env["MEDALLION_PERF_DATA"] ?? join(tmpdir(), "medallion-perf-data")

const countries = ["US", "GB", "DE", "FR", "NL", "ES", "IT", "JP"] as const
const statuses = ["placed", "Shipped", "completed", "CANCELLED", "returned"] as const
const currencies = ["USD", "EUR", "GBP"] as const
const channels = ["web", "app", "store"] as const
const segments = ["consumer", "business", "enterprise"] as const

export const orderColumns = ["order_id", "customer_id", "status", "amount", "currency", "channel", "country", "ordered_at", "updated_at"] as const
export const customerColumns = ["customer_id", "name", "email", "country", "segment", "signup_date"] as const

/** Lines appended to orders.csv that every reader must reject (wrong number of fields). */
const malformedLines = (rows: number): ReadonlyArray<string> => {
  const id = (k: number) => String(rows * 2 + k)
  return [
    `${id(1)},17,placed,12.50`, // too few fields
    `${id(2)},18,placed,30.00,USD,web,US,2024-03-01 10:00:00,2024-03-01 10:00:00,oops,more`, // too many
    `${id(3)}`, // one field
    `${id(4)},19,shipped,7.25,EUR,app,DE,2024-03-02 11:00:00`, // one field short
    `${id(5)},20,placed,1.00,GBP,web,GB,2024-03-03 12:00:00,2024-03-03 12:00:00,extra` // one field too many
  ]
}
const MALFORMED_LINES = 5

export interface Dataset {
  readonly size: string
  readonly rows: number
  readonly customers: number
  readonly dir: string
  readonly ordersCsv: string
  readonly customersCsv: string
  readonly ordersParquet: string
  readonly customersParquet: string
  readonly bytes: { readonly ordersCsv: number; readonly ordersParquet: number }
  /** Seconds the generation took, or 0 when reused. */
  readonly generatedSeconds: number
}

/** "1m" -> 1,000,000; "250k" -> 250,000; "100m"; plain numbers too. */
const parseSize = (size: string): number => {
  const m = /^(\d+(?:\.\d+)?)\s*([kmb]?)$/i.exec(size.trim())
  if (m === null) throw new Error(`not a size: ${size} (use e.g. 1m, 10m, 100m, 200k)`)
  const scale = { "": 1, k: 1e3, m: 1e6, b: 1e9 }[m[2]!.toLowerCase() as "" | "k" | "m" | "b"]
  return Math.round(Number(m[1]) * scale)
}

const list = (values: ReadonlyArray<string>) => `[${values.map((v) => `'${v}'`).join(", ")}]`

/** The orders query: row i of N. Values of an order depend on its index o; per-row dirt on i. */
const ordersQuery = (rows: number, customers: number): string => {
  const originals = rows - Math.round(rows * 0.02)
  const customerSpace = customers + Math.max(1, Math.round(customers * 0.002))
  return `
WITH idx AS (
  SELECT i,
    CASE WHEN i < ${originals} THEN i ELSE hash(i, 11) % ${originals} END AS o,
    CASE WHEN i < ${originals} THEN 0 ELSE i - ${originals} + 1 END AS dup
  FROM range(${rows}) t(i)
), base AS (
  SELECT i, o, dup,
    TIMESTAMP '2024-01-01 00:00:00' + to_seconds(CAST(hash(o, 8) % ${730 * 86400} AS BIGINT)) AS ordered_ts
  FROM idx
)
SELECT
  CAST(o + 1 AS VARCHAR) AS order_id,
  CASE WHEN hash(i, 2) % 1000 < 10 THEN NULL ELSE CAST(1 + hash(o, 1) % ${customerSpace} AS VARCHAR) END AS customer_id,
  ${list(statuses)}[1 + CAST(hash(i, 6) % ${statuses.length} AS INTEGER)] AS status,
  CASE
    WHEN hash(i, 5) % 1000 < 5 THEN NULL
    WHEN hash(i, 12) % 20000 = 0 THEN 'n/a'
    ELSE (CASE WHEN hash(i, 4) % 1000 < 5 THEN '-' ELSE '' END) || printf('%d.%02d', CAST(hash(o, 3) % 500 AS INTEGER), CAST(hash(o, 13) % 100 AS INTEGER))
  END AS amount,
  CASE WHEN hash(o, 14) % 100 = 0 THEN NULL ELSE ${list(currencies)}[1 + CAST(hash(o, 7) % ${currencies.length} AS INTEGER)] END AS currency,
  CASE WHEN hash(o, 15) % 100 = 0 THEN NULL ELSE ${list(channels)}[1 + CAST(hash(o, 16) % ${channels.length} AS INTEGER)] END AS channel,
  ${list(countries)}[1 + CAST(hash(o, 17) % ${countries.length} AS INTEGER)] AS country,
  CASE WHEN hash(i, 10) % 1000 < 5 THEN NULL ELSE strftime(ordered_ts, '%Y-%m-%d %H:%M:%S') END AS ordered_at,
  strftime(ordered_ts + to_seconds(CAST(CASE WHEN dup = 0 THEN hash(o, 9) % 86400 ELSE 86400 + dup END AS BIGINT)), '%Y-%m-%d %H:%M:%S') AS updated_at
FROM base`
}

const customersQuery = (customers: number): string => `
SELECT
  CAST(i + 1 AS VARCHAR) AS customer_id,
  'Customer ' || (i + 1) AS name,
  'c' || (i + 1) || '@example.com' AS email,
  ${list(countries)}[1 + CAST(hash(i, 21) % ${countries.length} AS INTEGER)] AS country,
  CASE WHEN hash(i, 22) % 100 = 0 THEN NULL ELSE ${list(segments)}[1 + CAST(hash(i, 23) % ${segments.length} AS INTEGER)] END AS segment,
  strftime(DATE '2020-01-01' + CAST(hash(i, 24) % 1461 AS INTEGER), '%Y-%m-%d') AS signup_date
FROM range(${customers}) t(i)`

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`

/** Generates (or reuses) the dataset of one size. */
export const ensureDataset = async (size: string, dataDir = defaultDataDir(), log: (line: string) => void = () => {}): Promise<Dataset> => {
  const rows = parseSize(size)
  const customers = Math.max(1000, Math.round(rows / 10))
  const dir = join(resolve(dataDir), `${GENERATOR_VERSION}-${rows}`)
  const files = {
    ordersCsv: join(dir, "orders.csv"),
    customersCsv: join(dir, "customers.csv"),
    ordersParquet: join(dir, "orders.parquet"),
    customersParquet: join(dir, "customers.parquet")
  }
  const manifest = join(dir, "manifest.json")
  const done = (generatedSeconds: number): Dataset => ({
    size,
    rows,
    customers,
    dir,
    ...files,
    generatedSeconds,
    bytes: { ordersCsv: statSync(files.ordersCsv).size, ordersParquet: statSync(files.ordersParquet).size }
  })
  if (existsSync(manifest)) {
    const m = JSON.parse(readFileSync(manifest, "utf8")) as { rows?: number; generator?: string }
    if (m.rows === rows && m.generator === GENERATOR_VERSION) return done(0)
  }
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  log(`generating ${rows.toLocaleString("en-US")} orders and ${customers.toLocaleString("en-US")} customers in ${dir}`)
  const started = performance.now()
  const db = await DuckDBInstance.create(":memory:", { preserve_insertion_order: "true", temp_directory: join(dir, ".tmp") })
  const connection = await db.connect()
  try {
    // Parquet first (from the generator), CSV from the Parquet file: the query runs once.
    const parts = (file: string) => `${file}.part`
    await connection.run(`COPY (${ordersQuery(rows, customers)}) TO ${sqlString(parts(files.ordersParquet))} (FORMAT parquet, COMPRESSION zstd)`)
    await connection.run(`COPY (SELECT * FROM read_parquet(${sqlString(parts(files.ordersParquet))})) TO ${sqlString(parts(files.ordersCsv))} (FORMAT csv, HEADER true)`)
    await connection.run(`COPY (${customersQuery(customers)}) TO ${sqlString(parts(files.customersParquet))} (FORMAT parquet, COMPRESSION zstd)`)
    await connection.run(`COPY (SELECT * FROM read_parquet(${sqlString(parts(files.customersParquet))})) TO ${sqlString(parts(files.customersCsv))} (FORMAT csv, HEADER true)`)
    appendFileSync(parts(files.ordersCsv), `${malformedLines(rows).join("\n")}\n`)
    for (const file of Object.values(files)) renameSync(parts(file), file)
  } finally {
    connection.closeSync()
    db.closeSync()
    rmSync(join(dir, ".tmp"), { recursive: true, force: true })
  }
  const seconds = (performance.now() - started) / 1000
  writeFileSync(
    manifest,
    `${JSON.stringify({ generator: GENERATOR_VERSION, rows, customers, malformed_lines: MALFORMED_LINES, seconds: Math.round(seconds * 10) / 10 }, null, 2)}\n`
  )
  log(`generated in ${seconds.toFixed(1)} s`)
  return done(seconds)
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { sizes: { type: "string", default: "1m" }, "data-dir": { type: "string" } } })
  for (const size of values.sizes.split(",")) {
    const d = await ensureDataset(size, values["data-dir"] ?? defaultDataDir(), (l) => process.stderr.write(`${l}\n`))
    console.log(`${d.size}: ${d.dir} (orders.csv ${(d.bytes.ordersCsv / 2 ** 20).toFixed(0)} MiB, orders.parquet ${(d.bytes.ordersParquet / 2 ** 20).toFixed(0)} MiB)`)
  }
}
