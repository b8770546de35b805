/**
 * The engine side of the incremental property: a project on disk for a generated case, its
 * arrivals written into it, and what a warehouse holds read back in the model's shape
 * (test/property/model.ts), so that one deepStrictEqual compares them.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { pipelineYaml } from "./arbitraries.ts"
import { type Arrival, type Case, csvText, type Expected, type Table, type TableState, type Value } from "./model.ts"

const config = `engine: duckdb
concurrency: 2
duckdb: { path: ./.medallion/warehouse.duckdb, threads: 1 }
`

/** Writes the case's pipeline and config into `dir`. */
export const writeProject = (dir: string, c: Case) => {
  mkdirSync(join(dir, "pipelines"), { recursive: true })
  mkdirSync(join(dir, "config"), { recursive: true })
  mkdirSync(join(dir, "data", "in"), { recursive: true })
  writeFileSync(join(dir, "pipelines", "prop.yaml"), pipelineYaml(c.pipeline))
  writeFileSync(join(dir, "config", "default.yaml"), config)
}

/** Writes (whole files) and removes the files of one arrival in `dir`'s data/in. */
export const land = (dir: string, arrival: Arrival) => {
  for (const name of arrival.remove) rmSync(join(dir, "data", "in", name), { force: true })
  for (const file of arrival.write) writeFileSync(join(dir, "data", "in", file.name), csvText(file))
}

/** The status of each table in the last run that ran it: whether it failed (or was skipped). */
export type Failed = Readonly<Record<string, boolean>>

type Query<R> = (sql: string) => Effect.Effect<ReadonlyArray<Readonly<Record<string, unknown>>>, unknown, R>

const text = (v: unknown): Value => (v === null || v === undefined ? null : String(v))
const basename = (column: string) => `regexp_extract(${column}, '[^/\\\\]+$')`

/** Rows as sorted JSON lines: tables compare as multisets, whatever order they were read in. */
const canonical = (table: Table): ReadonlyArray<string> =>
  table
    .map((r) =>
      JSON.stringify(
        Object.keys(r)
          .sort()
          .map((k) => [k, r[k] ?? null])
      )
    )
    .sort()

/** A model state with its tables in canonical order. */
export const canonicalState = (e: Expected, options: { readonly sourceRow: boolean }) => ({
  bronze: canonical(options.sourceRow ? e.bronze : e.bronze.map(({ _source_row: _, ...r }) => r)),
  silver: Object.fromEntries(Object.entries(e.silver).map(([k, t]) => [k, canonicalTable(t)])),
  gold: canonicalTable(e.gold)
})

const canonicalTable = (t: TableState) => ({ exists: t.exists, failed: t.failed, rows: canonical(t.rows), quarantine: canonical(t.quarantine) })

/**
 * What a warehouse holds, in the model's shape: bronze with its lineage (file and row), each silver
 * table and its quarantine, gold. Run-time lineage (`_batch_id`, `_ingested_at`, quarantine times)
 * is left out; file paths are compared by file name.
 */
export const readState = <R>(c: Case, query: Query<R>, failed: Failed) =>
  Effect.gen(function* () {
    // The catalog functions, not information_schema (several times the CPU, in every stage of every case).
    const inDatabase = "database_name = current_database()"
    const existing = new Set(
      (yield* query(`SELECT schema_name || '.' || table_name AS id FROM duckdb_tables() WHERE ${inDatabase}
      UNION ALL SELECT schema_name || '.' || view_name FROM duckdb_views() WHERE ${inDatabase}`)).map((r) => String(r["id"]))
    )
    const read = (id: string, list: ReadonlyArray<string>) =>
      Effect.map(query(`SELECT ${list.join(", ")} FROM ${id}`), (rows) => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, text(v)]))))
    /** The data columns as text: `note` only where the table has it (a column appearing in later files). */
    const data = (more: ReadonlyArray<string> = []) => `COLUMNS(c -> c IN (${["id", "seq", "amount", "cat", "note", ...more].map((n) => `'${n}'`).join(", ")}))::VARCHAR`
    const bronze = !existing.has("bronze.raw")
      ? []
      : (yield* read("bronze.raw", [
          // `_source_row` is compared where the engine has it; a missing column shows as a difference.
          data(["_source_row"]),
          `${basename("_source_file")} AS _source_file`
        ])).map((r) => ({ _source_row: null, ...r }))
    const silver: Record<string, TableState> = {}
    for (const s of c.pipeline.silver) {
      const id = `silver.${s.name}`
      const exists = existing.has(id)
      const rows = exists ? yield* read(id, [data(), `${basename("_source_file")} AS _source_file`]) : []
      const q = `silver.${s.name}__quarantine`
      const quarantine = existing.has(q) ? yield* read(q, ["id::VARCHAR AS id", "seq::VARCHAR AS seq", "cat::VARCHAR AS cat", `${basename("_source_file")} AS _source_file`]) : []
      silver[s.name] = { exists, failed: failed[id] === true, rows, quarantine }
    }
    const goldExists = existing.has("gold.totals")
    const gold: TableState = {
      exists: goldExists,
      failed: failed["gold.totals"] === true,
      rows: goldExists ? yield* read("gold.totals", ["cat::VARCHAR AS cat", "n::VARCHAR AS n", "total::VARCHAR AS total"]) : [],
      quarantine: []
    }
    return { bronze, silver, gold } satisfies Expected
  })
