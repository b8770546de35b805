/**
 * Compares every gold table of two warehouses, row for row (used by CI to check that Node and
 * Deno produce the same gold). Exits 1 naming the first difference.
 */
import { DuckDBInstance } from "@duckdb/node-api"

const [left, right] = process.argv.slice(2)
if (left === undefined || right === undefined) {
  console.error("usage: compare-gold.ts <warehouse.duckdb> <warehouse.duckdb>")
  process.exit(2)
}
const db = await DuckDBInstance.create(":memory:")
const connection = await db.connect()
await connection.run(`ATTACH '${left.replaceAll("'", "''")}' AS l (READ_ONLY); ATTACH '${right.replaceAll("'", "''")}' AS r (READ_ONLY)`)
const tables = (
  await connection.runAndReadAll("SELECT table_name FROM information_schema.tables WHERE table_catalog = 'l' AND table_schema = 'gold' AND table_type = 'BASE TABLE' ORDER BY 1")
)
  .getRowObjectsJson()
  .map((row) => String(row["table_name"]))
if (tables.length === 0) {
  console.error("no gold tables to compare")
  process.exit(1)
}
// Lineage columns name the run that wrote a row; they differ by design between two runs.
const data = (side: string, table: string) =>
  `SELECT COLUMNS(lambda c: c NOT IN ('_batch_id', '_ingested_at', '_quarantine_batch_id', '_quarantined_at')) FROM ${side}.gold."${table}"`
for (const table of tables) {
  const count = async (sql: string) => Number((await connection.runAndReadAll(sql)).getRowObjectsJson()[0]?.["n"] ?? -1)
  const diff = await count(`SELECT count(*) AS n FROM ((${data("l", table)} EXCEPT ALL ${data("r", table)}) UNION ALL (${data("r", table)} EXCEPT ALL ${data("l", table)}))`)
  const rows = await count(`SELECT count(*) AS n FROM l.gold."${table}"`)
  if (diff !== 0) {
    console.error(`gold.${table}: ${diff} row(s) differ`)
    process.exit(1)
  }
  console.log(`gold.${table}: ${rows} rows, identical`)
}
