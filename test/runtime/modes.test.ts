/**
 * Materializations: replace (atomic; a failed run leaves the old table), append (bronze by file
 * checksum, silver/gold by input batch, so re-applying never doubles) and view.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { TableId } from "../../src/plan/Plan.ts"
import { runTable } from "../../src/runtime/runTable.ts"
import { planOf, runPlan } from "../support/project.ts"
import { assertBalanced, column, countOf, countsOf, expectationsOf, inProject, objectsIn, query, succeeded, tableOf } from "./harness.ts"

const orders = "order_id,amount\n1,10\n2,20\n3,-5\n"

/** Published objects whose name says they are left over from a build (`__next`) or a stage. */
const leftovers = Effect.gen(function* () {
  const all = yield* query(
    "SELECT table_schema || '.' || table_name AS name FROM information_schema.tables WHERE table_name LIKE '%\\_\\_next' ESCAPE '\\' OR table_name LIKE '\\_\\_stage%' ESCAPE '\\'"
  )
  return all.map((r) => r["name"])
})

describe("mode: replace", () => {
  const plan = planOf(`
version: 1
pipeline: shop
sources: { orders: { format: csv, path: data/orders.csv } }
bronze: { orders: { from: orders } }
silver:
  orders:
    from: bronze.orders
    transforms:
      - cast: { order_id: integer, amount: integer }
      - sql: "select order_id, amount, case when amount = 99 then error('boom') else amount * 2 end as doubled from {{ input }}"
    expect:
      - { name: positive, check: amount > 0, on_fail: quarantine }
`)
  const content = Effect.gen(function* () {
    return {
      orders: yield* query("SELECT order_id, amount, doubled FROM silver.orders ORDER BY order_id"),
      quarantine: yield* query("SELECT order_id, amount, _expectations FROM silver.orders__quarantine ORDER BY order_id")
    }
  })
  const expected = {
    orders: [
      { order_id: 1, amount: 10, doubled: 20 },
      { order_id: 2, amount: 20, doubled: 40 }
    ],
    quarantine: [{ order_id: 3, amount: -5, _expectations: ["positive"] }]
  }

  it.effect("re-running gives the same content, quarantine included", () =>
    inProject({ "data/orders.csv": orders }, (project) =>
      Effect.gen(function* () {
        const first = yield* runPlan(project, plan)
        const t1 = succeeded(first, "silver.orders")
        assert.deepStrictEqual(countsOf(t1), { rows_in: 3, rows_out: 2, quarantined: 1, dropped: 0, duplicates: 0, rejected: 0, dropped_by_reason: {} })
        assert.deepStrictEqual(yield* content, expected)
        // Nothing changed: every table is skipped and keeps its content.
        const second = yield* runPlan(project, plan)
        assert.deepStrictEqual(
          second.tables.map((t) => t.status),
          second.tables.map(() => "unchanged")
        )
        assert.deepStrictEqual(yield* content, expected)
        // A full refresh rebuilds all of it, with the same result.
        const third = yield* runPlan(project, plan, [], { fullRefresh: true })
        assert.deepStrictEqual(countsOf(succeeded(third, "silver.orders")), countsOf(t1))
        assert.deepStrictEqual(yield* content, expected)
        assert.deepStrictEqual(yield* countOf("bronze.orders"), 3)
        // The bronze rows now carry the third run's batch id only.
        assert.deepStrictEqual(yield* column("SELECT DISTINCT _batch_id FROM bronze.orders", "_batch_id"), [third.run.batch_id])
        assert.deepStrictEqual(yield* leftovers, [])
      })
    )
  )

  it.effect("a run failing in a sql step leaves the old table and its quarantine intact, with no __next left", () =>
    inProject({ "data/orders.csv": orders }, (project) =>
      Effect.gen(function* () {
        succeeded(yield* runPlan(project, plan), "silver.orders")
        project.write("data/orders.csv", "order_id,amount\n1,11\n2,99\n4,-1\n")
        const second = yield* runPlan(project, plan)
        assert.strictEqual(succeeded(second, "bronze.orders").rows_out, 3)
        const t = tableOf(second, "silver.orders")
        assert.strictEqual(t.status, "failed")
        assert.include(t.error, "boom")
        assert.strictEqual(second.run.status, "failed")
        assert.deepStrictEqual(yield* content, expected)
        assert.deepStrictEqual(yield* leftovers, [])
        // No batch was recorded for the failed table in the second run.
        const batches = yield* query(`SELECT table_id FROM _medallion.batches WHERE batch_id = '${second.run.batch_id}' ORDER BY table_id`)
        assert.deepStrictEqual(batches, [{ table_id: "bronze.orders" }])
      })
    )
  )

  it.effect("a cast set to fail stops the table with CastFailed naming the column; the old table stays", () =>
    inProject({ "data/orders.csv": orders }, (project) =>
      Effect.gen(function* () {
        const strict = planOf(`
version: 1
pipeline: shop
sources: { orders: { format: csv, path: data/orders.csv } }
bronze: { orders: { from: orders } }
silver:
  orders:
    from: bronze.orders
    transforms:
      - cast: { columns: { order_id: integer, amount: integer }, on_error: fail }
  shorthand:
    from: bronze.orders
    transforms:
      - cast: { order_id: integer, amount: integer }
`)
        const first = yield* runPlan(project, strict)
        succeeded(first, "silver.orders")
        succeeded(first, "silver.shorthand")
        const before = yield* query("SELECT order_id, amount FROM silver.orders ORDER BY order_id")
        assert.deepStrictEqual(before, [
          { order_id: 1, amount: 10 },
          { order_id: 2, amount: 20 },
          { order_id: 3, amount: -5 }
        ])

        project.write("data/orders.csv", "order_id,amount\n1,10\n2,twenty\n5,50\n6,n/a\n")
        const second = yield* runPlan(project, strict)
        for (const id of ["silver.orders", "silver.shorthand"] as const) {
          const t = tableOf(second, id)
          assert.strictEqual(t.status, "failed", id)
          assert.include(t.error, `${id}: cannot cast column amount for 2 row(s)`)
          assert.deepStrictEqual(yield* query(`SELECT order_id, amount FROM ${id} ORDER BY order_id`), before, id)

          const error = yield* runTable(
            { node: strict.nodes.get(id as TableId)!, full: true, files: [], checksummed: Effect.succeed([]), onPublish: () => Effect.void },
            { batchId: "direct", startedAt: new Date(0).toISOString(), projectDir: project.dir }
          ).pipe(Effect.flip)
          assert.strictEqual(error._tag, "CastFailed")
          if (error._tag === "CastFailed") {
            assert.deepStrictEqual([error.table, error.column, error.failed], [id, "amount", 2])
          }
        }
        assert.deepStrictEqual(yield* leftovers, [])
      })
    )
  )

  it.effect("replace takes over a name that holds a view, and a view takes over a table", () =>
    inProject({ "data/orders.csv": orders }, (project) =>
      Effect.gen(function* () {
        const asMode = (mode: string) =>
          planOf(`
version: 1
pipeline: shop
sources: { orders: { format: csv, path: data/orders.csv } }
bronze: { orders: { from: orders } }
silver:
  orders: { from: bronze.orders, mode: ${mode}, transforms: [ { filter: "amount <> '20'" } ] }
`)
        for (const mode of ["view", "replace", "view"]) {
          succeeded(yield* runPlan(project, asMode(mode)), "silver.orders")
          assert.deepStrictEqual((yield* objectsIn("silver"))["orders"], mode === "view" ? "VIEW" : "BASE TABLE", mode)
          assert.deepStrictEqual(yield* column("SELECT order_id FROM silver.orders ORDER BY order_id", "order_id"), ["1", "3"], mode)
        }
      })
    )
  )
})

describe("mode: append", () => {
  const plan = planOf(`
version: 1
pipeline: feed
sources: { events: { format: csv, path: "data/in/*.csv" } }
bronze: { events: { from: events, mode: append } }
silver:
  events:
    from: bronze.events
    mode: append
    transforms:
      - cast: { id: integer, value: integer }
      - select: [id, value, _batch_id]
    expect:
      - { name: small, check: value < 100, on_fail: quarantine }
gold:
  totals:
    from: silver.events
    transforms:
      - aggregate: { metrics: { n: "count(*)", total: sum(value) } }
`)
  const totals = Effect.map(query("SELECT n::INTEGER AS n, total::INTEGER AS total FROM gold.totals"), (r) => r[0])

  it.effect("bronze re-applies nothing for files already ingested, and only the rows of a new file", () =>
    inProject({ "data/in/a.csv": "id,value\n1,10\n2,20\n" }, (project) =>
      Effect.gen(function* () {
        const first = yield* runPlan(project, plan)
        const b1 = succeeded(first, "bronze.events")
        assert.deepStrictEqual(countsOf(b1), { rows_in: 2, rows_out: 2, quarantined: 0, dropped: 0, duplicates: 0, rejected: 0, dropped_by_reason: {} })
        assertBalanced(b1)

        const again = yield* runPlan(project, plan)
        const b2 = tableOf(again, "bronze.events")
        assert.strictEqual(b2.status, "unchanged")
        assert.deepStrictEqual([b2.rows_in, b2.rows_out], [0, 0])
        assert.strictEqual(yield* countOf("bronze.events"), 2)

        project.write("data/in/b.csv", "id,value\n3,30\n4,40\n5,500\n")
        const third = yield* runPlan(project, plan)
        const b3 = succeeded(third, "bronze.events")
        assert.deepStrictEqual([b3.rows_in, b3.rows_out], [3, 3])
        assert.include(b3.reason, "1 already ingested")
        assert.deepStrictEqual(yield* query("SELECT id, _batch_id FROM bronze.events ORDER BY id::INTEGER"), [
          { id: "1", _batch_id: first.run.batch_id },
          { id: "2", _batch_id: first.run.batch_id },
          { id: "3", _batch_id: third.run.batch_id },
          { id: "4", _batch_id: third.run.batch_id },
          { id: "5", _batch_id: third.run.batch_id }
        ])
        const files = yield* query("SELECT regexp_extract(path, '[^/\\\\]+$') AS file, batch_id FROM _medallion.ingested_files WHERE table_id = 'bronze.events' ORDER BY file")
        assert.deepStrictEqual(files, [
          { file: "a.csv", batch_id: first.run.batch_id },
          { file: "b.csv", batch_id: third.run.batch_id }
        ])
      })
    )
  )

  it.effect("silver consumes only new input batches, so re-applying never doubles rows or quarantine", () =>
    inProject({ "data/in/a.csv": "id,value\n1,10\n2,200\n" }, (project) =>
      Effect.gen(function* () {
        const first = yield* runPlan(project, plan)
        const s1 = succeeded(first, "silver.events")
        assert.deepStrictEqual(countsOf(s1), { rows_in: 2, rows_out: 1, quarantined: 1, dropped: 0, duplicates: 0, rejected: 0, dropped_by_reason: {} })
        assertBalanced(s1)
        assert.include(s1.reason, "create: new table")
        assert.deepStrictEqual(yield* totals, { n: 1, total: 10 })

        const again = yield* runPlan(project, plan)
        const s2 = tableOf(again, "silver.events")
        assert.strictEqual(s2.status, "unchanged")
        assert.deepStrictEqual([s2.rows_in, s2.rows_out, s2.quarantined], [0, 0, 0])
        assert.strictEqual(yield* countOf("silver.events"), 1)
        assert.strictEqual(yield* countOf("silver.events__quarantine"), 1)

        project.write("data/in/b.csv", "id,value\n3,30\n4,40\n5,500\n")
        const third = yield* runPlan(project, plan)
        const s3 = succeeded(third, "silver.events")
        assert.deepStrictEqual([s3.rows_in, s3.rows_out, s3.quarantined], [3, 2, 1])
        assert.deepStrictEqual(yield* query("SELECT id, value, _batch_id FROM silver.events ORDER BY id"), [
          { id: 1, value: 10, _batch_id: first.run.batch_id },
          { id: 3, value: 30, _batch_id: third.run.batch_id },
          { id: 4, value: 40, _batch_id: third.run.batch_id }
        ])
        assert.deepStrictEqual(yield* query("SELECT id, _expectations, _quarantine_batch_id FROM silver.events__quarantine ORDER BY id"), [
          { id: 2, _expectations: ["small"], _quarantine_batch_id: first.run.batch_id },
          { id: 5, _expectations: ["small"], _quarantine_batch_id: third.run.batch_id }
        ])
        // gold (replace) over the appended silver sees every row once.
        assert.deepStrictEqual(yield* totals, { n: 3, total: 80 })
        assert.deepStrictEqual(
          yield* column("SELECT batch_id FROM _medallion.consumed_batches WHERE table_id = 'silver.events' AND input_id = 'bronze.events' ORDER BY batch_id", "batch_id"),
          [first.run.batch_id, third.run.batch_id].sort()
        )
        // A fourth run with nothing new changes nothing.
        yield* runPlan(project, plan)
        assert.strictEqual(yield* countOf("silver.events"), 3)
        assert.strictEqual(yield* countOf("silver.events__quarantine"), 2)
      })
    )
  )

  it.effect("append from an input without _batch_id fails the table with a clear reason", () =>
    inProject({ "data/in/a.csv": "id,value\n1,10\n" }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          planOf(`
version: 1
pipeline: feed
sources: { events: { format: csv, path: "data/in/*.csv" } }
bronze: { events: { from: events, mode: append } }
silver:
  slim: { from: bronze.events, mode: append, transforms: [ { select: [id, value, _batch_id] }, { drop: [_batch_id] } ] }
  appended: { from: silver.slim, mode: append }
  from_sql: { sql: "select * from {{ silver.slim }}", mode: append }
`)
        )
        const appended = tableOf(report, "silver.appended")
        assert.strictEqual(appended.status, "failed")
        assert.include(appended.error, "keep its _batch_id column")
        const fromSql = tableOf(report, "silver.from_sql")
        assert.strictEqual(fromSql.status, "failed")
        assert.include(fromSql.error, "mode: append needs `from:`")
        assert.notProperty(yield* objectsIn("silver"), "appended")
      })
    )
  )
})

describe("mode: view", () => {
  const viewPlan = (onFail: string) =>
    planOf(`
version: 1
pipeline: live
sources: { orders: { format: csv, path: data/orders.csv } }
bronze: { orders: { from: orders } }
silver:
  orders:
    from: bronze.orders
    mode: view
    transforms:
      - cast: { order_id: integer, amount: integer }
      - filter: order_id <> 2
    expect:
      - { name: positive, check: amount > 0, on_fail: ${onFail} }
      - { not_null: [order_id] }
`)

  it.effect("is a view in information_schema; warn expectations are evaluated and recorded", () =>
    inProject({ "data/orders.csv": orders }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(project, viewPlan("warn"))
        const t = succeeded(report, "silver.orders")
        assert.strictEqual(t.mode, "view")
        assert.deepStrictEqual(countsOf(t), { rows_in: 3, rows_out: 2, quarantined: 0, dropped: 1, duplicates: 0, rejected: 0, dropped_by_reason: { filter: 1 } })
        assertBalanced(t)
        assert.deepStrictEqual(expectationsOf(t), [
          ["positive", "warn", 1, 1],
          ["not_null(order_id)", "warn", 2, 0]
        ])
        assert.strictEqual((yield* objectsIn("silver"))["orders"], "VIEW")
        assert.deepStrictEqual(yield* query("SELECT order_id, amount FROM silver.orders ORDER BY order_id"), [
          { order_id: 1, amount: 10 },
          { order_id: 3, amount: -5 }
        ])
        // A view reads its input live.
        project.write("data/orders.csv", "order_id,amount\n7,70\n")
        yield* runPlan(project, viewPlan("warn"), ["bronze.orders"])
        assert.deepStrictEqual(yield* query("SELECT order_id, amount FROM silver.orders"), [{ order_id: 7, amount: 70 }])
      })
    )
  )

  it.effect("a fail expectation stops the view and keeps the previous definition", () =>
    inProject({ "data/orders.csv": "order_id,amount\n1,10\n3,30\n" }, (project) =>
      Effect.gen(function* () {
        succeeded(yield* runPlan(project, viewPlan("fail")), "silver.orders")
        project.write("data/orders.csv", orders)
        const report = yield* runPlan(
          project,
          planOf(`
version: 1
pipeline: live
sources: { orders: { format: csv, path: data/orders.csv } }
bronze: { orders: { from: orders } }
silver:
  orders:
    from: bronze.orders
    mode: view
    transforms:
      - cast: { order_id: integer, amount: integer }
      - derive: { changed: "true" }
    expect:
      - { name: positive, check: amount > 0, on_fail: fail }
`)
        )
        const t = tableOf(report, "silver.orders")
        assert.strictEqual(t.status, "failed")
        assert.include(t.error, "expectation positive failed for 1 row(s)")
        // Still the old definition: no `changed` column, and its filter still applies.
        assert.strictEqual((yield* objectsIn("silver"))["orders"], "VIEW")
        assert.deepStrictEqual(yield* query("SELECT * EXCLUDE (_source_file, _source_row, _batch_id, _ingested_at) FROM silver.orders ORDER BY order_id"), [
          { order_id: 1, amount: 10 },
          { order_id: 3, amount: -5 }
        ])
      })
    )
  )
})
