/**
 * Bronze ingestion of every source format, with lineage columns, and CSV rejects in append mode.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { planOf, runPlan } from "../support/project.ts"
import { assertBalanced, columnsOf, countsOf, inProject, query, succeeded, tableOf } from "./harness.ts"

const fileName = "regexp_extract(_source_file, '[^/\\\\]+$')"

describe("bronze ingest", () => {
  it.effect("reads csv (with options), json, ndjson and parquet, adding _batch_id, _source_file and _ingested_at", () =>
    inProject(
      {
        "data/semi.csv": "1;a b;x\n2;c;\n",
        "data/items.json": `[{"id": 1, "tag": "a"}, {"id": 2, "tag": null}]`,
        "data/events/one.ndjson": `{"id": 1, "kind": "a"}\n{"id": 2, "extra": 3}\n`,
        "data/events/two.ndjson": `{"id": 3, "kind": "c"}\n`
      },
      (project) =>
        Effect.gen(function* () {
          yield* query(`COPY (SELECT 1 AS id, 'x' AS v UNION ALL SELECT 2, 'y') TO '${project.dir.replaceAll("'", "''")}/data/p1.parquet' (FORMAT parquet)`)
          yield* query(`COPY (SELECT 3 AS id, 'z' AS v, true AS flag) TO '${project.dir.replaceAll("'", "''")}/data/p2.parquet' (FORMAT parquet)`)
          const report = yield* runPlan(
            project,
            planOf(`
version: 1
pipeline: formats
sources:
  semi: { format: csv, path: data/semi.csv, options: { delimiter: ";", header: false } }
  items: { format: json, path: data/items.json }
  events: { format: ndjson, path: "data/events/*.ndjson" }
  parts: { format: parquet, path: "data/*.parquet" }
bronze:
  semi: { from: semi }
  items: { from: items }
  events: { from: events }
  parts: { from: parts }
`)
          )
          assert.strictEqual(report.run.status, "succeeded")
          const expected = { semi: 2, items: 2, events: 3, parts: 3 }
          for (const [name, n] of Object.entries(expected)) {
            const t = succeeded(report, `bronze.${name}`)
            assert.deepStrictEqual(countsOf(t), { rows_in: n, rows_out: n, quarantined: 0, dropped: 0, duplicates: 0, rejected: 0, dropped_by_reason: {} }, name)
            assertBalanced(t)
            const lineage = yield* query(`SELECT DISTINCT _batch_id, CAST(_ingested_at AS VARCHAR) IS NOT NULL AS stamped FROM bronze.${name}`)
            assert.deepStrictEqual(lineage, [{ _batch_id: report.run.batch_id, stamped: true }], name)
          }

          // Headerless CSV: generated column names, every value as text, empty field as NULL.
          assert.deepStrictEqual(yield* columnsOf("bronze", "semi"), ["column0", "column1", "column2", "_source_file", "_source_row", "_batch_id", "_ingested_at"])
          assert.deepStrictEqual(yield* query("SELECT column0, column1, column2 FROM bronze.semi ORDER BY column0"), [
            { column0: "1", column1: "a b", column2: "x" },
            { column0: "2", column1: "c", column2: null }
          ])
          assert.deepStrictEqual(yield* query(`SELECT id::INTEGER AS id, tag, ${fileName} AS file FROM bronze.items ORDER BY id`), [
            { id: 1, tag: "a", file: "items.json" },
            { id: 2, tag: null, file: "items.json" }
          ])
          assert.deepStrictEqual(yield* query(`SELECT id::INTEGER AS id, kind, extra::INTEGER AS extra, ${fileName} AS file FROM bronze.events ORDER BY id`), [
            { id: 1, kind: "a", extra: null, file: "one.ndjson" },
            { id: 2, kind: null, extra: 3, file: "one.ndjson" },
            { id: 3, kind: "c", extra: null, file: "two.ndjson" }
          ])
          // Parquet files are unioned by name.
          assert.deepStrictEqual(yield* query(`SELECT id, v, flag, ${fileName} AS file FROM bronze.parts ORDER BY id`), [
            { id: 1, v: "x", flag: null, file: "p1.parquet" },
            { id: 2, v: "y", flag: null, file: "p1.parquet" },
            { id: 3, v: "z", flag: true, file: "p2.parquet" }
          ])
        })
    )
  )

  it.effect("append mode appends the rejects of new files only", () =>
    inProject({ "data/in/a.csv": "id,v\n1,x\n2,y,extra\n3,z\n" }, (project) =>
      Effect.gen(function* () {
        const plan = planOf(`
version: 1
pipeline: feed
sources: { feed: { format: csv, path: "data/in/*.csv" } }
bronze: { feed: { from: feed, mode: append } }
`)
        const first = yield* runPlan(project, plan)
        assert.deepStrictEqual(countsOf(succeeded(first, "bronze.feed")), {
          rows_in: 3,
          rows_out: 2,
          quarantined: 0,
          dropped: 0,
          duplicates: 0,
          rejected: 1,
          dropped_by_reason: {}
        })
        const again = yield* runPlan(project, plan)
        assert.deepStrictEqual([tableOf(again, "bronze.feed").status, tableOf(again, "bronze.feed").rows_in], ["unchanged", 0])

        project.write("data/in/b.csv", "id,v\n4,w\n5\n")
        const third = yield* runPlan(project, plan)
        const t = succeeded(third, "bronze.feed")
        assert.deepStrictEqual(countsOf(t), { rows_in: 2, rows_out: 1, quarantined: 0, dropped: 0, duplicates: 0, rejected: 1, dropped_by_reason: {} })
        assertBalanced(t)
        assert.deepStrictEqual(
          yield* query("SELECT regexp_extract(source_file, '[^/\\\\]+$') AS file, line::INTEGER AS line, raw_line, _batch_id FROM bronze.feed__rejects ORDER BY file"),
          [
            { file: "a.csv", line: 3, raw_line: "2,y,extra", _batch_id: first.run.batch_id },
            { file: "b.csv", line: 3, raw_line: "5", _batch_id: third.run.batch_id }
          ]
        )
        assert.deepStrictEqual(yield* query("SELECT id, _batch_id FROM bronze.feed ORDER BY id"), [
          { id: "1", _batch_id: first.run.batch_id },
          { id: "3", _batch_id: first.run.batch_id },
          { id: "4", _batch_id: third.run.batch_id }
        ])
      })
    )
  )
})
