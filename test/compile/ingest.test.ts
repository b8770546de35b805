/**
 * Golden-style checks of the bronze ingest SQL with the DuckDB dialect, and of the publish
 * statements (replace builds __next and swaps; append creates if missing and inserts by name).
 */
import { assert, describe, it } from "@effect/vitest"
import { duckdb } from "../../src/compile/duckdb.ts"
import { compileIngest } from "../../src/compile/ingest.ts"
import { appendStatements, replaceStatements } from "../../src/compile/publish.ts"
import type { IngestNode, TableId } from "../../src/plan/Plan.ts"
import { planOf } from "../support/project.ts"

const inputs = {
  batchId: "B-7",
  startedAt: "2024-05-01T12:00:00.000Z",
  files: [
    { path: "/landing/a.csv", name: "a.csv", batchId: "B-3", ingestedAt: "2024-04-01T08:00:00.000Z" },
    { path: "/landing/o'brien.csv", name: "o'brien.csv", batchId: "B-7", ingestedAt: "2024-05-01T12:00:00.000Z" }
  ]
}

const ingestNode = (source: string, name = "raw"): IngestNode => {
  const node = planOf(`
version: 1
pipeline: golden
sources: { src: ${source} }
bronze: { ${name}: { from: src } }
`).nodes.get(`bronze.${name}` as TableId)
  assert.isDefined(node)
  assert.strictEqual(node!._tag, "Ingest")
  return node as IngestNode
}

describe("compileIngest (duckdb)", () => {
  it("csv: each file read on its own, every value as text, lineage with the file's name in the project, its position and its batch, rejects kept aside", () => {
    const program = compileIngest(duckdb, ingestNode("{ format: csv, path: data/*.csv }"), inputs)
    assert.strictEqual(program.stage, "__stage_bronze_raw")
    const rejects = `store_rejects = true, rejects_table = '__rejects_bronze_raw', rejects_scan = '__rejects_scan_bronze_raw'`
    assert.deepStrictEqual(program.reads, [
      `SELECT * REPLACE ('a.csv' AS "_source_file"), row_number() OVER () AS "_source_row", 'B-3' AS "_batch_id", CAST('2024-04-01T08:00:00.000Z' AS TIMESTAMPTZ) AS "_ingested_at" FROM (SELECT * FROM read_csv(['/landing/a.csv'], header = true, all_varchar = true, filename = '_source_file', ${rejects})) AS file`,
      `SELECT * REPLACE ('o''brien.csv' AS "_source_file"), row_number() OVER () AS "_source_row", 'B-7' AS "_batch_id", CAST('2024-05-01T12:00:00.000Z' AS TIMESTAMPTZ) AS "_ingested_at" FROM (SELECT * FROM read_csv(['/landing/o''brien.csv'], header = true, all_varchar = true, filename = '_source_file', ${rejects})) AS file`
    ])
    assert.strictEqual(program.createStage, `CREATE OR REPLACE TEMP TABLE "__stage_bronze_raw" AS ${program.reads[0]}`)
    assert.strictEqual(program.insertIntoStage(1), `INSERT INTO "__stage_bronze_raw" BY NAME ${program.reads[1]}`)
    assert.isDefined(program.rejected)
    assert.include(program.rejected!, `'B-7' AS "_batch_id"`)
    assert.include(program.rejected!, `FROM "__rejects_bronze_raw" e JOIN "__rejects_scan_bronze_raw" s USING (scan_id, file_id) GROUP BY 1, 2`)
    assert.include(program.rejected!, "e.line AS line")
    assert.include(
      program.rejected!,
      `CASE r.source_file WHEN '/landing/a.csv' THEN 'a.csv' WHEN '/landing/o''brien.csv' THEN 'o''brien.csv' ELSE r.source_file END AS source_file`
    )
    assert.include(program.rejected!, "ltrim(any_value(e.csv_line), chr(13) || chr(10)) AS raw_line")
    assert.strictEqual(program.output, `SELECT * FROM "__stage_bronze_raw"`)
    assert.strictEqual(program.countStage, `SELECT count(*) AS n FROM "__stage_bronze_raw"`)
    assert.deepStrictEqual(program.cleanup, [
      `DROP TABLE IF EXISTS temp."__stage_bronze_raw"`,
      `DROP TABLE IF EXISTS temp."__rejects_bronze_raw"`,
      `DROP TABLE IF EXISTS temp."__rejects_scan_bronze_raw"`,
      `DROP TABLE IF EXISTS temp."__set_aside_bronze_raw"`,
      `DROP TABLE IF EXISTS temp."__raw_bytes_bronze_raw"`
    ])
  })

  it("csv options are passed through; infer_types turns off all_varchar", () => {
    const program = compileIngest(
      duckdb,
      ingestNode(`{ format: csv, path: data/x.txt, options: { delimiter: ";", header: false, quote: "'", escape: "\\\\", infer_types: true } }`),
      inputs
    )
    assert.include(program.reads[0]!, `header = false, delim = ';', quote = '''', escape = '\\'`)
    assert.notInclude(program.reads[0]!, "all_varchar")
  })

  it("json, ndjson and parquet read with the filename column and have no rejects", () => {
    const json = compileIngest(duckdb, ingestNode("{ format: json, path: data/*.json }"), inputs)
    assert.include(json.reads[1]!, `read_json(['/landing/o''brien.csv'], format = 'array', filename = '_source_file')`)
    assert.isUndefined(json.rejected)
    assert.deepStrictEqual(json.cleanup, [`DROP TABLE IF EXISTS temp."__stage_bronze_raw"`])

    const ndjson = compileIngest(duckdb, ingestNode("{ format: ndjson, path: data/*.ndjson }"), inputs)
    assert.include(ndjson.reads[0]!, `format = 'newline_delimited', filename = '_source_file'`)
    assert.isUndefined(ndjson.rejected)

    const parquet = compileIngest(duckdb, ingestNode("{ format: parquet, path: data/*.parquet }"), inputs)
    assert.include(parquet.reads[0]!, `read_parquet(['/landing/a.csv'], filename = '_source_file', union_by_name = true)`)
    assert.isUndefined(parquet.rejected)
  })
})

describe("publish statements (duckdb)", () => {
  const publications = [
    { layer: "silver" as const, name: "orders", query: "SELECT 1 AS x" },
    { layer: "silver" as const, name: "orders__quarantine", query: "SELECT 2 AS x" }
  ]

  it("replace builds __next tables, then swaps drop + rename, dropping a view where one stands", () => {
    const statements = replaceStatements(duckdb, publications)
    assert.deepStrictEqual(statements.build, [
      `CREATE OR REPLACE TABLE "silver"."orders__next" AS SELECT 1 AS x`,
      `CREATE OR REPLACE TABLE "silver"."orders__quarantine__next" AS SELECT 2 AS x`
    ])
    assert.deepStrictEqual(statements.swap(new Set(["orders"])), [
      `DROP VIEW IF EXISTS "silver"."orders"`,
      `ALTER TABLE "silver"."orders__next" RENAME TO "orders"`,
      `DROP TABLE IF EXISTS "silver"."orders__quarantine"`,
      `ALTER TABLE "silver"."orders__quarantine__next" RENAME TO "orders__quarantine"`
    ])
    assert.deepStrictEqual(statements.cleanup, [`DROP TABLE IF EXISTS "silver"."orders__next"`, `DROP TABLE IF EXISTS "silver"."orders__quarantine__next"`])
  })

  it("append creates an empty table shaped like the query if missing, then inserts by name", () => {
    assert.deepStrictEqual(appendStatements(duckdb, publications[0]!), {
      create: `CREATE TABLE IF NOT EXISTS "silver"."orders" AS SELECT * FROM (SELECT 1 AS x) LIMIT 0`,
      insert: `INSERT INTO "silver"."orders" BY NAME SELECT 1 AS x`
    })
  })
})
