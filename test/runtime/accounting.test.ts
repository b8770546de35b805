/**
 * The accounting invariant: every input row lands in exactly one bucket,
 * rows_in = rows_out + quarantined + dropped + duplicates + rejected, on tables that use all of them.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { planOf, runPlan } from "../support/project.ts"
import { assertBalanced, column, columnsOf, countsOf, expectationsOf, inProject, query, succeeded } from "./harness.ts"

// Two files; the second line of each block says which bucket the row ends in.
const partA = [
  "id,kind,amount,qty,ref",
  "1,a,10,1,r1", //   out
  "2,a,20,1,r1", //   duplicate of the next (dedupe keeps the larger amount)
  "2,a,21,1,r1", //   out
  "10,a,1,2,3,4", //  rejected: too many columns (line 5)
  "3,b,5,1,r2", //    out (warned: kind not a)
  "4,x,7,1,r1", //    dropped: filter
  ""
].join("\n")
const partB = [
  "id,kind,amount,qty,ref",
  "5,a,4,abc,r1", //  quarantined: cast(qty)
  "6,a,-3,1,r1", //   quarantined: non_negative
  "11,a", //          rejected: missing columns (line 4)
  "7,b,8,1,zz", //    dropped: join_unmatched
  "8,,9,1,r1", //     dropped: drop_nulls
  "9,a,1000,1,r2", // dropped: expectation:small
  ""
].join("\n")

const plan = planOf(`
version: 1
pipeline: ledger
sources:
  rows: { format: csv, path: "data/rows/*.csv" }
  refs: { format: csv, path: data/refs.csv }
bronze:
  rows: { from: rows }
  refs: { from: refs }
silver:
  refs:
    from: bronze.refs
    transforms: [ { select: [ref, label] } ]
  rows:
    from: bronze.rows
    transforms:
      - drop_nulls: [kind]
      - filter: "kind in ('a', 'b')"
      - dedupe: { keys: [id], order_by: amount desc }
      - cast: { columns: { id: integer, amount: integer, qty: integer }, on_error: quarantine }
      - join: { to: silver.refs, on: [ref], how: inner, columns: [label] }
    expect:
      - { name: non_negative, check: amount >= 0, on_fail: quarantine }
      - { name: small, check: amount < 500, on_fail: drop }
      - { name: known_kind, accepted_values: { column: kind, values: [a] } }
gold:
  by_label:
    from: silver.rows
    transforms:
      - aggregate: { by: [label], metrics: { n: "count(*)", total: sum(amount) } }
`)

describe("accounting", () => {
  it.effect("every row lands in exactly one bucket, across bronze rejects and every silver bucket", () =>
    inProject({ "data/rows/a.csv": partA, "data/rows/b.csv": partB, "data/refs.csv": "ref,label\nr1,One\nr2,Two\n" }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(project, plan)
        assert.strictEqual(report.run.status, "succeeded")
        for (const t of report.tables) assertBalanced(t)

        const bronze = succeeded(report, "bronze.rows")
        assert.deepStrictEqual(countsOf(bronze), { rows_in: 12, rows_out: 10, quarantined: 0, dropped: 0, duplicates: 0, rejected: 2, dropped_by_reason: {} })

        const silver = succeeded(report, "silver.rows")
        assert.deepStrictEqual(countsOf(silver), {
          rows_in: 10,
          rows_out: 3,
          quarantined: 2,
          dropped: 4,
          duplicates: 1,
          rejected: 0,
          dropped_by_reason: { drop_nulls: 1, filter: 1, join_unmatched: 1, "expectation:small": 1 }
        })
        // Expectations are evaluated on the rows still alive after the chain (6 of them).
        assert.deepStrictEqual(expectationsOf(silver), [
          ["non_negative", "quarantine", 5, 1],
          ["small", "drop", 5, 1],
          ["known_kind", "warn", 5, 1]
        ])
        assert.deepStrictEqual(yield* query("SELECT id, kind, amount, label FROM silver.rows ORDER BY id"), [
          { id: 1, kind: "a", amount: 10, label: "One" },
          { id: 2, kind: "a", amount: 21, label: "One" },
          { id: 3, kind: "b", amount: 5, label: "Two" }
        ])
        assert.deepStrictEqual(yield* query("SELECT id, qty, _expectations FROM silver.rows__quarantine ORDER BY id"), [
          { id: 5, qty: null, _expectations: ["cast(qty)"] },
          { id: 6, qty: 1, _expectations: ["non_negative"] }
        ])

        // Gold restarts accounting at its aggregate: its input is the grouped rows.
        const gold = succeeded(report, "gold.by_label")
        assert.deepStrictEqual([gold.rows_in, gold.rows_out], [2, 2])
        assert.deepStrictEqual(yield* query("SELECT label, n::INTEGER AS n, total::INTEGER AS total FROM gold.by_label ORDER BY label"), [
          { label: "One", n: 2, total: 31 },
          { label: "Two", n: 1, total: 5 }
        ])

        // The run's totals are the sums of its tables.
        assert.strictEqual(
          report.run.records_in,
          report.tables.reduce((a, t) => a + t.rows_in, 0)
        )
        assert.strictEqual(
          report.run.records_out,
          report.tables.reduce((a, t) => a + t.rows_out, 0)
        )
        // And the same counts were stored.
        const stored = yield* query(
          `SELECT table_id, rows_in::INTEGER AS rows_in, rows_out::INTEGER AS rows_out, quarantined::INTEGER AS quarantined, dropped::INTEGER AS dropped,
             duplicates::INTEGER AS duplicates, rejected::INTEGER AS rejected, dropped_by_reason, accounting_ok
           FROM _medallion.run_tables WHERE batch_id = '${report.run.batch_id}' AND table_id IN ('bronze.rows', 'silver.rows') ORDER BY table_id`
        )
        assert.deepStrictEqual(
          stored.map((r): Record<string, unknown> => ({ ...r, dropped_by_reason: JSON.parse(String(r["dropped_by_reason"])) })),
          [
            { table_id: "bronze.rows", rows_in: 12, rows_out: 10, quarantined: 0, dropped: 0, duplicates: 0, rejected: 2, dropped_by_reason: {}, accounting_ok: true },
            {
              table_id: "silver.rows",
              rows_in: 10,
              rows_out: 3,
              quarantined: 2,
              dropped: 4,
              duplicates: 1,
              rejected: 0,
              dropped_by_reason: { drop_nulls: 1, filter: 1, join_unmatched: 1, "expectation:small": 1 },
              accounting_ok: true
            }
          ]
        )
      })
    )
  )

  it.effect("malformed CSV lines are counted as rejected and kept in bronze.<t>__rejects with file and line", () =>
    inProject({ "data/rows/a.csv": partA, "data/rows/b.csv": partB, "data/refs.csv": "ref,label\nr1,One\n" }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(project, plan, ["bronze.rows"])
        assert.deepStrictEqual(
          report.tables.map((t) => t.table),
          ["bronze.rows"]
        )
        const t = succeeded(report, "bronze.rows")
        assert.deepStrictEqual([t.rows_in, t.rows_out, t.rejected], [12, 10, 2])
        assertBalanced(t)

        const rejects = yield* query(
          "SELECT regexp_extract(source_file, '[^/\\\\]+$') AS file, line::INTEGER AS line, error_type, raw_line, _batch_id FROM bronze.rows__rejects ORDER BY file, line"
        )
        assert.deepStrictEqual(rejects, [
          { file: "a.csv", line: 5, error_type: "TOO MANY COLUMNS", raw_line: "10,a,1,2,3,4", _batch_id: report.run.batch_id },
          { file: "b.csv", line: 4, error_type: "MISSING COLUMNS", raw_line: "11,a", _batch_id: report.run.batch_id }
        ])
        assert.deepStrictEqual(yield* columnsOf("bronze", "rows__rejects"), [
          "_batch_id",
          "_ingested_at",
          "source_file",
          "line",
          "error_type",
          "error_message",
          "raw_line",
          "raw_bytes"
        ])
        // The good rows are all there, with lineage, and none of the rejected ones.
        assert.deepStrictEqual(yield* column("SELECT id FROM bronze.rows ORDER BY id::INTEGER", "id"), ["1", "2", "2", "3", "4", "5", "6", "7", "8", "9"])
        assert.deepStrictEqual(yield* query("SELECT regexp_extract(_source_file, '[^/\\\\]+$') AS file, count(*)::INTEGER AS n FROM bronze.rows GROUP BY 1 ORDER BY 1"), [
          { file: "a.csv", n: 5 },
          { file: "b.csv", n: 5 }
        ])
      })
    )
  )

  it.effect("bronze replace with no malformed lines records zero rejects; a rerun replaces the rejects", () =>
    inProject({ "data/rows/a.csv": partA, "data/refs.csv": "ref,label\nr1,One\n" }, (project) =>
      Effect.gen(function* () {
        const first = yield* runPlan(project, plan, ["bronze.rows"])
        assert.strictEqual(succeeded(first, "bronze.rows").rejected, 1)
        project.write("data/rows/a.csv", "id,kind,amount,qty,ref\n1,a,10,1,r1\n")
        const second = yield* runPlan(project, plan, ["bronze.rows"])
        const t = succeeded(second, "bronze.rows")
        assert.deepStrictEqual(countsOf(t), { rows_in: 1, rows_out: 1, quarantined: 0, dropped: 0, duplicates: 0, rejected: 0, dropped_by_reason: {} })
        assert.deepStrictEqual(yield* query("SELECT count(*)::INTEGER AS n FROM bronze.rows__rejects"), [{ n: 0 }])
      })
    )
  )
})
