/**
 * Test support: the Databricks executor and the metadata store pointed at a stand-in server
 * (server.ts), and a comparison of gold tables between a DuckDB warehouse and the stand-in.
 */
import { NodeServices } from "@effect/platform-node"
import { Layer, Redacted } from "effect"
import * as CircuitBreaker from "../../../src/executor/CircuitBreaker.ts"
import { type DatabricksOptions, layerFetch } from "../../../src/executor/DatabricksExecutor.ts"
import * as SqlMetadataStore from "../../../src/metadata/SqlMetadataStore.ts"
import type { StandIn } from "./server.ts"

export const WAREHOUSE = "stand-in-warehouse"
export const TOKEN = "dapi-stand-in-0123456789"

/** Options for the executor against `standIn`, with short waits so tests stay fast. */
export const standInOptions = (standIn: StandIn, overrides: Partial<DatabricksOptions> = {}): DatabricksOptions => ({
  host: standIn.url,
  warehouseId: WAREHOUSE,
  auth: { _tag: "Token", token: Redacted.make(TOKEN) },
  catalog: "lakehouse",
  waitTimeout: "5 seconds",
  pollInitial: "20 millis",
  pollMax: "200 millis",
  retryInitial: "50 millis",
  retryMax: "1 second",
  ...overrides
})

/** Executor (behind the circuit breaker, as the CLI has it) and metadata store on the stand-in. */
export const databricksEngine = (standIn: StandIn, overrides: Partial<DatabricksOptions> = {}) =>
  Layer.provideMerge(
    SqlMetadataStore.layer,
    CircuitBreaker.layer({ failureThreshold: 5, cooldown: "30 seconds" }).pipe(Layer.provide(layerFetch(standInOptions(standIn, overrides))))
  ).pipe(Layer.provideMerge(NodeServices.layer))

// Lineage columns name the run that wrote a row; they differ by design between two runs.
const lineage = new Set(["_batch_id", "_ingested_at", "_quarantine_batch_id", "_quarantined_at", "_source_file"])

/**
 * Differences between the gold tables of a DuckDB warehouse file and the stand-in's catalog,
 * compared by column name (Spark moves replaced columns to the end of a row) and row multiset.
 * Empty when they are the same; `tables` lists what was compared with its row count.
 */
export const compareGold = async (standIn: StandIn, duckdbFile: string, catalog = "lakehouse", schema = "gold", layer = "gold") => {
  await standIn.query(`ATTACH '${duckdbFile.replaceAll("'", "''")}' AS duck (READ_ONLY)`)
  try {
    const names = async (db: string, s: string) =>
      (
        await standIn.query(`SELECT table_name FROM information_schema.tables WHERE table_catalog = '${db}' AND table_schema = '${s}' AND table_type = 'BASE TABLE' ORDER BY 1`)
      ).map((r) => String(r["table_name"]))
    // Spark's CSV reader keeps no rejected lines: DuckDB's __rejects tables have no counterpart.
    const left = (await names("duck", layer)).filter((t) => !t.endsWith("__rejects"))
    const right = await names(catalog, schema)
    const problems: Array<string> = []
    if (left.join(",") !== right.join(",")) problems.push(`${layer} tables differ: duckdb has ${left.join(", ")}; databricks has ${right.join(", ")}`)
    const tables: Record<string, number> = {}
    for (const table of left.filter((t) => right.includes(t))) {
      const columns = async (db: string, s: string) =>
        (await standIn.query(`SELECT column_name FROM information_schema.columns WHERE table_catalog = '${db}' AND table_schema = '${s}' AND table_name = '${table}'`))
          .map((r) => String(r["column_name"]))
          .filter((c) => !lineage.has(c))
          .sort()
      const l = await columns("duck", layer)
      const r = await columns(catalog, schema)
      if (l.join(",") !== r.join(",")) {
        problems.push(`${layer}.${table}: columns differ: duckdb ${l.join(", ")}; databricks ${r.join(", ")}`)
        continue
      }
      const select = (from: string) => `SELECT ${l.map((c) => `"${c}"`).join(", ")} FROM ${from}`
      const a = select(`duck."${layer}"."${table}"`)
      const b = select(`"${catalog}"."${schema}"."${table}"`)
      const diff = await standIn.query(`SELECT count(*)::INTEGER AS n FROM ((${a} EXCEPT ALL ${b}) UNION ALL (${b} EXCEPT ALL ${a}))`)
      const count = await standIn.query(`SELECT count(*)::INTEGER AS n FROM duck."${layer}"."${table}"`)
      tables[table] = Number(count[0]?.["n"])
      if (Number(diff[0]?.["n"]) !== 0) problems.push(`${layer}.${table}: ${String(diff[0]?.["n"])} row(s) differ`)
    }
    return { problems, tables }
  } finally {
    await standIn.query("DETACH duck")
  }
}
