/**
 * What a long run history costs a run that records itself: a DuckDB file with N runs in
 * `_medallion.runs`, opened, one run started (INSERT) and finished (UPDATE) as the store does,
 * closed (DuckDB checkpoints at close). Store version 3's table (no primary key) against version
 * 2's (batch_id PRIMARY KEY): DuckDB writes a table's whole index at every checkpoint.
 *
 *   node bench/history.ts [--runs R] [--sizes 0,1000,10000,50000]
 */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { DuckDBInstance } from "@duckdb/node-api"

const { values: flags } = parseArgs({ options: { runs: { type: "string", default: "15" }, sizes: { type: "string", default: "0,1000,10000,50000" } } })
const rounds = Math.max(3, Number(flags.runs))
const sizes = flags.sizes.split(",").map(Number)

const columns = `pipelines VARCHAR, env VARCHAR, engine VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
  status VARCHAR, records_in BIGINT, records_out BIGINT, duration_seconds DOUBLE, errors BIGINT, success_rate DOUBLE,
  throughput DOUBLE, unchanged_tables VARCHAR`
const variants = {
  "version 3 (no key)": `CREATE TABLE _medallion.runs (batch_id VARCHAR, ${columns})`,
  "version 2 (primary key)": `CREATE TABLE _medallion.runs (batch_id VARCHAR PRIMARY KEY, ${columns})`
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const dir = mkdtempSync(join(tmpdir(), "medallion-history-"))
console.log(`${rounds} rounds per figure; ms, median (min-max)\n`)
console.log("| runs in history | variant | record (INSERT + UPDATE) | close (checkpoint) |")
console.log("|---:|---|---:|---:|")
try {
  for (const size of sizes) {
    for (const [variant, ddl] of Object.entries(variants)) {
      const seed = join(dir, "seed.duckdb")
      rmSync(seed, { force: true })
      const db = await DuckDBInstance.create(seed)
      const c = await db.connect()
      await c.run("CREATE SCHEMA _medallion")
      await c.run(ddl)
      if (size > 0) {
        await c.run(`INSERT INTO _medallion.runs SELECT strftime(TIMESTAMP '2026-01-01' + i * INTERVAL 1 HOUR, '%Y%m%dT%H%M%S000Z') || '-' || md5(i::VARCHAR)[:8],
          'retail_orders,jaffle_shop', 'default', 'duckdb', TIMESTAMP '2026-01-01' + i * INTERVAL 1 HOUR, TIMESTAMP '2026-01-01' + i * INTERVAL 1 HOUR + INTERVAL 1 SECOND,
          'succeeded', 2231, 2193, 0.5, 0, 0.98, 4462, '' FROM range(${size}) t(i)`)
      }
      c.closeSync()
      db.closeSync()
      const record: Array<number> = []
      const close: Array<number> = []
      for (let r = 0; r < rounds; r++) {
        const file = join(dir, "round.duckdb")
        copyFileSync(seed, file)
        const round = await DuckDBInstance.create(file, { threads: "2" })
        const s = await round.connect()
        const batch = `20991231T000000000Z-${String(r).padStart(8, "0")}`
        let t = performance.now()
        await s.run(`INSERT INTO _medallion.runs VALUES ('${batch}', 'shop', 'default', 'duckdb', '2099-12-31T00:00:00Z', NULL, 'running', 0, 0, 0, 0, 0, 0, '')`)
        await s.run(`UPDATE _medallion.runs SET status = 'succeeded', finished_at = '2099-12-31T00:00:01Z', records_in = 10 WHERE batch_id = '${batch}'`)
        record.push(performance.now() - t)
        s.closeSync()
        t = performance.now()
        round.closeSync()
        close.push(performance.now() - t)
      }
      const show = (xs: ReadonlyArray<number>) => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})`
      console.log(`| ${size.toLocaleString("en")} | ${variant} | ${show(record)} | ${show(close)} |`)
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
