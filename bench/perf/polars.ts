/**
 * The peer: the suite's work hand-written with nodejs-polars, what a TypeScript user might pick
 * instead of a warehouse. Layers are Parquet files (Polars has no catalog): bronze/, silver/ and
 * gold/ under --out, plus the gold export. Prints one JSON line with the time of each step (ms).
 *
 *   node bench/perf/polars.ts --orders F --customers F --out DIR --export out.parquet [--format csv|parquet]
 *
 * Threads: POLARS_MAX_THREADS in the environment (read when the library loads).
 * Semantic choices that keep the gold rows equal to the SQL variants (see BENCHMARKS.md):
 *   - malformed CSV lines: read with one extra column and truncateRaggedLines; a line with more
 *     fields than the header fills `_extra`, a line with fewer leaves `updated_at` (always present
 *     in well-formed lines) null; both go to bronze/orders__rejects;
 *   - dedupe: sort by updated_at descending, keep the first row per order_id (no ties by construction);
 *   - amount is Float64 (Polars' decimal support is partial); revenue is rounded to 2 decimals.
 *
 * nodejs-polars is not a dependency of the project (its lockfile entry made `npm ci` fail where some
 * of its platform packages are missing from the registry): install it with
 * `npm install --no-save nodejs-polars@0.26.1`. It is loaded by a dynamic import and typed by the
 * slice of its API used below, so the project type-checks without it.
 */
import { mkdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { parseArgs } from "node:util"
import { customerColumns, orderColumns } from "./generate.ts"
import { GOLD_TABLE } from "./workload.ts"

/** The part of the nodejs-polars API this file uses. */
interface DataType {
  readonly variant?: string
}
interface Expr {
  alias(name: string): Expr
  cast(type: DataType, strict?: boolean): Expr
  isNull(): Expr
  isNotNull(): Expr
  not(): Expr
  and(other: Expr): Expr
  or(other: Expr): Expr
  gtEq(value: number): Expr
  neq(other: Expr): Expr
  fillNull(value: Expr): Expr
  sum(): Expr
  round(decimals: number): Expr
  nUnique(): Expr
  readonly str: { strptime(type: DataType, format: string): Expr; toLowerCase(): Expr }
}
interface LazyFrame {
  withColumns(...exprs: ReadonlyArray<Expr>): LazyFrame
  sort(by: string, descending: boolean): LazyFrame
  unique(options: { subset: ReadonlyArray<string>; keep: "first" }): LazyFrame
  filter(predicate: Expr): LazyFrame
  join(other: LazyFrame, options: { on: string; how: "inner" }): LazyFrame
  select(...columns: ReadonlyArray<string>): LazyFrame
  groupBy(by: ReadonlyArray<string>): { agg(...exprs: ReadonlyArray<Expr>): LazyFrame }
  collect(): Promise<DataFrame>
}
interface DataFrame {
  lazy(): LazyFrame
  filter(predicate: Expr): DataFrame
  drop(columns: string | ReadonlyArray<string>): DataFrame
  withColumns(...exprs: ReadonlyArray<Expr>): DataFrame
  writeParquet(path: string, options: { compression: "snappy" }): void
}
interface Polars {
  col(name: string): Expr
  lit(value: string | number | boolean | Date | null): Expr
  len(): Expr
  when(predicate: Expr): { then(value: Expr): { otherwise(value: Expr): Expr } }
  concatString(exprs: ReadonlyArray<Expr>, separator: string, ignoreNulls: boolean): Expr
  anyHorizontal(exprs: ReadonlyArray<Expr>): Expr
  scanCSV(path: string, options: { hasHeader: boolean; schema: Record<string, DataType>; truncateRaggedLines?: boolean }): LazyFrame
  scanParquet(path: string): LazyFrame
  readonly Utf8: DataType
  readonly Int64: DataType
  readonly Float64: DataType
  readonly Date: DataType
  Datetime(unit: "ms"): DataType
}
const specifier = "nodejs-polars"
const pl = ((await import(specifier)) as { default: Polars }).default

const { values } = parseArgs({
  options: {
    orders: { type: "string" },
    customers: { type: "string" },
    out: { type: "string" },
    export: { type: "string" },
    format: { type: "string", default: "csv" }
  }
})
if (values.orders === undefined || values.customers === undefined || values.out === undefined || values.export === undefined) {
  console.error("usage: node bench/perf/polars.ts --orders F --customers F --out DIR --export FILE [--format csv|parquet]")
  process.exit(2)
}
const { orders, customers, out, export: exportFile } = values
const parquet = values.format === "parquet"
for (const dir of ["bronze", "silver", "gold"]) mkdirSync(join(out, dir), { recursive: true })
mkdirSync(dirname(exportFile), { recursive: true })

const steps: Record<string, number> = {}
const step = async <A>(name: string, f: () => A | Promise<A>): Promise<A> => {
  const started = performance.now()
  const result = await f()
  steps[name] = Math.round(performance.now() - started)
  return result
}
const write = (df: DataFrame, layer: string, name: string) => df.writeParquet(join(out, layer, `${name}.parquet`), { compression: "snappy" })
const ingestedAt = new Date()
const lineage = (file: string) => [pl.lit(file).alias("_source_file"), pl.lit(ingestedAt).alias("_ingested_at")]
const text = (columns: ReadonlyArray<string>) => Object.fromEntries(columns.map((c) => [c, pl.Utf8]))

// Bronze: the files as text, with lineage; malformed order lines aside.
const bronzeOrders = await step("bronze.orders", async () => {
  if (parquet) {
    const df = await pl
      .scanParquet(orders)
      .withColumns(...lineage(orders))
      .collect()
    write(df, "bronze", "orders")
    return df
  }
  const raw = await pl
    .scanCSV(orders, { hasHeader: true, schema: text([...orderColumns, "_extra"]), truncateRaggedLines: true })
    .withColumns(...lineage(orders))
    .collect()
  const malformed = pl.col("_extra").isNotNull().or(pl.col("updated_at").isNull())
  write(raw.filter(malformed), "bronze", "orders__rejects")
  const df = raw.filter(malformed.not()).drop("_extra")
  write(df, "bronze", "orders")
  return df
})
const bronzeCustomers = await step("bronze.customers", async () => {
  const scan = parquet ? pl.scanParquet(customers) : pl.scanCSV(customers, { hasHeader: true, schema: text(customerColumns) })
  const df = await scan.withColumns(...lineage(customers)).collect()
  write(df, "bronze", "customers")
  return df
})

// Silver.
const silverCustomers = await step("silver.customers", async () => {
  const df = await bronzeCustomers
    .lazy()
    .withColumns(pl.col("customer_id").cast(pl.Int64, true), pl.col("signup_date").str.strptime(pl.Date, "%Y-%m-%d"), pl.col("segment").fillNull(pl.lit("consumer")))
    .collect()
  write(df, "silver", "customers")
  return df
})

const timestamp = (c: string) => pl.col(c).str.strptime(pl.Datetime("ms"), "%Y-%m-%d %H:%M:%S")
const typed = {
  order_id: pl.col("order_id").cast(pl.Int64, false),
  customer_id: pl.col("customer_id").cast(pl.Int64, false),
  amount: pl.col("amount").cast(pl.Float64, false),
  ordered_at: timestamp("ordered_at"),
  updated_at: timestamp("updated_at")
}
const castColumns = Object.keys(typed) as ReadonlyArray<keyof typeof typed>
const silverOrders: DataFrame = await step("silver.orders", async () => {
  const checked = await bronzeOrders
    .lazy()
    .sort("updated_at", true)
    .unique({ subset: ["order_id"], keep: "first" })
    .withColumns(
      ...castColumns.map((c) => typed[c].alias(c)),
      ...castColumns.map((c) => pl.col(c).isNotNull().and(typed[c].isNull()).alias(`_cast_failed_${c}`)),
      pl.col("status").str.toLowerCase(),
      pl.col("currency").fillNull(pl.lit("USD")),
      pl.col("channel").fillNull(pl.lit("web"))
    )
    .withColumns(
      pl.col("ordered_at").cast(pl.Date).alias("order_date"),
      pl.col("amount").gtEq(0).fillNull(pl.lit(false)).not().alias("_negative_amount"),
      pl.col("ordered_at").isNull().alias("_null_ordered_at")
    )
    .withColumns(pl.anyHorizontal([...castColumns.map((c) => pl.col(`_cast_failed_${c}`)), pl.col("_negative_amount"), pl.col("_null_ordered_at")]).alias("_quarantined"))
    .collect()
  const flags = [...castColumns.map((c) => `_cast_failed_${c}`), "_negative_amount", "_null_ordered_at", "_quarantined"]
  const silver = checked.filter(pl.col("_quarantined").not().and(pl.col("customer_id").isNotNull())).drop(flags)
  const reason = (flag: string, name: string) => pl.when(pl.col(flag)).then(pl.lit(name)).otherwise(pl.lit(null))
  const quarantine = checked
    .filter(pl.col("_quarantined"))
    .withColumns(
      pl
        .concatString(
          [
            reason("_negative_amount", "non_negative_amount"),
            reason("_null_ordered_at", "not_null(ordered_at)"),
            ...castColumns.map((c) => reason(`_cast_failed_${c}`, `cast(${c})`))
          ],
          ",",
          true
        )
        .alias("_expectations"),
      pl.lit(new Date()).alias("_quarantined_at")
    )
    .drop(flags)
  write(silver, "silver", "orders")
  write(quarantine, "silver", "orders__quarantine")
  return silver
})

// Gold.
await step(`gold.${GOLD_TABLE}`, async () => {
  const gold = await silverOrders
    .lazy()
    .filter(pl.col("status").neq(pl.lit("cancelled")))
    .join(silverCustomers.lazy().select("customer_id", "segment"), { on: "customer_id", how: "inner" })
    .groupBy(["order_date", "country", "segment"])
    .agg(pl.len().alias("orders"), pl.col("customer_id").nUnique().alias("customers"), pl.col("amount").sum().round(2).alias("revenue"))
    .collect()
  write(gold, "gold", GOLD_TABLE)
  gold.writeParquet(exportFile, { compression: "snappy" })
})
console.log(JSON.stringify({ steps_ms: steps }))
