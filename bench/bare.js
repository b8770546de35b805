/**
 * The floor for a no-op apply: a bare Node process that opens the warehouse with @duckdb/node-api
 * and runs one query. Plain JavaScript: as a .ts file, Node's type stripping would add ~55 ms of
 * its own set-up to the floor. Usage: node bench/bare.js <warehouse.duckdb>
 */
import { DuckDBInstance } from "@duckdb/node-api"

const path = process.argv[2]
if (path === undefined) {
  console.error("usage: node bench/bare.js <warehouse.duckdb>")
  process.exit(2)
}
const db = await DuckDBInstance.create(path)
const connection = await db.connect()
const rows = (await connection.runAndReadAll("SELECT count(*) AS n FROM _medallion.runs")).getRowObjectsJson()
console.log(`runs: ${rows[0]?.["n"]}`)
connection.closeSync()
db.closeSync()
