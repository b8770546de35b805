/**
 * The floor: the suite's work as SQL written by hand (workload.ts), run directly through
 * @duckdb/node-api in one process, into a DuckDB file. Prints one JSON line with the time of each
 * step (milliseconds, measured around each statement).
 *
 *   node bench/perf/handwritten.ts --orders F --customers F --db warehouse.duckdb --export out.parquet
 *     [--format csv|parquet] [--threads N] [--memory-limit 4GB] [--no-lineage] [--set KEY=VALUE ...]
 *
 * --set runs `SET KEY = 'VALUE'` first: what a user does when DuckDB's advice says so (at 100M rows
 * under a 4GB memory_limit the dedupe needs disabled_optimizers=top_n_window_elimination; see
 * BENCHMARKS.md).
 */
import { DuckDBInstance } from "@duckdb/node-api"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import { parseArgs } from "node:util"
import { handWrittenSql } from "./workload.ts"

const { values } = parseArgs({
  options: {
    orders: { type: "string" },
    customers: { type: "string" },
    db: { type: "string" },
    export: { type: "string" },
    format: { type: "string", default: "csv" },
    threads: { type: "string" },
    "memory-limit": { type: "string" },
    "no-lineage": { type: "boolean", default: false },
    set: { type: "string", multiple: true, default: [] }
  }
})
const required = (name: "orders" | "customers" | "db" | "export") => {
  const value = values[name]
  if (value === undefined) {
    console.error(`missing --${name}`)
    process.exit(2)
  }
  return value
}
const format = values.format === "parquet" ? "parquet" : "csv"
const exportFile = required("export")
mkdirSync(dirname(exportFile), { recursive: true })

const settings: Record<string, string> = {}
if (values.threads !== undefined) settings["threads"] = values.threads
if (values["memory-limit"] !== undefined) settings["memory_limit"] = values["memory-limit"]
const db = await DuckDBInstance.create(required("db"), settings)
const connection = await db.connect()
const steps: Record<string, number> = {}
for (const setting of values.set) {
  const [key, ...rest] = setting.split("=")
  if (key === undefined || !/^[a-z_]+$/.test(key) || rest.length === 0) {
    console.error(`--set takes KEY=VALUE, got ${setting}`)
    process.exit(2)
  }
  await connection.run(`SET ${key} = '${rest.join("=").replaceAll("'", "''")}'`)
}
for (const statement of handWrittenSql({ orders: required("orders"), customers: required("customers"), format, exportFile, lineage: !values["no-lineage"] })) {
  const started = performance.now()
  try {
    await connection.run(statement.sql)
  } catch (e) {
    console.error(`${statement.step} failed after ${Math.round(performance.now() - started)} ms: ${e instanceof Error ? e.message : String(e)}`)
    process.exit(1)
  }
  steps[statement.step] = (steps[statement.step] ?? 0) + performance.now() - started
}
connection.closeSync()
db.closeSync()
console.log(JSON.stringify({ steps_ms: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, Math.round(v)])) }))
