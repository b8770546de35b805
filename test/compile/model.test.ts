/**
 * Golden-style checks of the SQL compileModel produces with the DuckDB dialect: key fragments,
 * not whole strings, so that formatting may change but the semantics may not.
 */
import { assert, describe, it } from "@effect/vitest"
import { duckdb } from "../../src/compile/duckdb.ts"
import { compileModel, type ModelInputs } from "../../src/compile/model.ts"
import type { ModelNode, TableId } from "../../src/plan/Plan.ts"
import { planOf } from "../support/project.ts"

const header = `
version: 1
pipeline: golden
sources: { orders: { format: csv, path: data/orders.csv }, customers: { format: csv, path: data/customers.csv } }
bronze: { orders: { from: orders }, customers: { from: customers } }
`
const inputs: ModelInputs = { batchId: "B-1", startedAt: "2024-05-01T12:00:00.000Z" }

/** The plan node of `id` in a pipeline made of the shared header and `tables`. */
const nodeOf = (tables: string, id: string): ModelNode => {
  const node = planOf(`${header}${tables}`).nodes.get(id as TableId)
  assert.isDefined(node)
  assert.strictEqual(node!._tag, "Model")
  return node as ModelNode
}

/** Each fragment occurs in `sql`, in this order. */
const includesInOrder = (sql: string, fragments: ReadonlyArray<string>) => {
  let from = 0
  for (const fragment of fragments) {
    const at = sql.indexOf(fragment, from)
    assert.isAtLeast(at, 0, `missing (in order) ${JSON.stringify(fragment)} in:\n${sql}`)
    from = at + fragment.length
  }
}

describe("compileModel (duckdb)", () => {
  const orders = nodeOf(
    `
silver:
  orders:
    from: bronze.orders
    transforms:
      - dedupe: { keys: [order_id], order_by: _ingested_at desc }
      - cast: { columns: { amount: "decimal(12,2)", ordered_at: timestamp }, on_error: quarantine }
      - filter: amount > 0
    expect:
      - { name: known_customer, not_null: [customer_id], on_fail: quarantine }
      - { unique: [order_id], on_fail: drop }
      - { accepted_values: { column: status, values: [paid, shipped] } }
`,
    "silver.orders"
  )
  const program = compileModel(duckdb, orders, inputs)

  it("stages the marked chain as CTEs over the input with markers unset (NULL)", () => {
    includesInOrder(program.buildStage, [
      `CREATE OR REPLACE TEMP TABLE "__stage_silver_orders" AS WITH step_0 AS (SELECT *, CAST(NULL AS VARCHAR) AS "__medallion_removed"`,
      `CAST(NULL AS VARCHAR[]) AS "__medallion_cast_q"`,
      `FROM "bronze"."orders")`,
      "step_1 AS (",
      "step_2 AS (",
      "step_3 AS (",
      "final AS (SELECT * FROM step_3)",
      "FROM final s"
    ])
    assert.strictEqual(program.stage, "__stage_silver_orders")
    assert.strictEqual(program.dropStage, `DROP TABLE IF EXISTS temp."__stage_silver_orders"`)
  })

  it("a leading dedupe keeps the first row per key with QUALIFY before the markers are added", () => {
    includesInOrder(program.buildStage, [
      `WITH step_0 AS (SELECT *, CAST(NULL AS VARCHAR) AS "__medallion_removed"`,
      `FROM (SELECT * FROM (SELECT * FROM "bronze"."orders") AS r QUALIFY row_number() OVER (PARTITION BY "order_id" ORDER BY _ingested_at desc) = 1) AS q)`,
      "step_1 AS (SELECT * FROM step_0)"
    ])
    assert.notInclude(program.buildStage, "'duplicate'")
  })

  it("a dedupe after other steps marks duplicates with row_number over the alive rows of a key", () => {
    const later = compileModel(
      duckdb,
      nodeOf(
        `
silver:
  later:
    from: bronze.orders
    transforms: [ { lowercase: [status] }, { dedupe: { keys: [order_id], order_by: _ingested_at desc } } ]
`,
        "silver.later"
      ),
      inputs
    )
    // No earlier step removes rows, so the key alone partitions.
    assert.include(
      later.buildStage,
      `CASE WHEN "__medallion_removed" IS NULL AND (row_number() OVER (PARTITION BY "order_id" ORDER BY _ingested_at desc) > 1) THEN 'duplicate' ELSE "__medallion_removed" END AS "__medallion_removed"`
    )
    assert.notMatch(later.buildStage, /QUALIFY/i)
    const last = compileModel(
      duckdb,
      nodeOf(
        `
silver:
  latest:
    from: bronze.orders
    transforms: [ { drop_nulls: [line] }, { dedupe: { keys: [order_id, line], order_by: [a, b desc], keep: last } } ]
`,
        "silver.latest"
      ),
      inputs
    )
    assert.include(
      last.buildStage,
      `row_number() OVER (PARTITION BY "__medallion_removed" IS NULL, "order_id", "line" ORDER BY a, b desc) < count(*) OVER (PARTITION BY "__medallion_removed" IS NULL, "order_id", "line")`
    )
    assert.notMatch(last.buildStage, /QUALIFY/i)
  })

  it("casts with TRY_CAST and records quarantined columns as cast(col)", () => {
    assert.include(program.buildStage, `TRY_CAST("amount" AS decimal(12,2)) AS "amount"`)
    assert.include(program.buildStage, `TRY_CAST("ordered_at" AS timestamp) AS "ordered_at"`)
    assert.include(
      program.buildStage,
      `nullif(list_concat(coalesce("__medallion_cast_q", CAST([] AS VARCHAR[])), list_filter([CASE WHEN "__medallion_removed" IS NULL AND "amount" IS NOT NULL AND TRY_CAST("amount" AS decimal(12,2)) IS NULL THEN 'cast(amount)' || chr(31) || CAST("amount" AS VARCHAR) END, `
    )
    assert.include(
      program.buildStage,
      `THEN 'cast(ordered_at)' || chr(31) || CAST("ordered_at" AS VARCHAR) END], lambda x: x IS NOT NULL)), CAST([] AS VARCHAR[])) AS "__medallion_cast_q"`
    )
    assert.notMatch(program.buildStage, /(?<!TRY_)CAST\("amount" AS (?!VARCHAR)/)
  })

  it("the cast marker grows linearly with the number of columns (each TRY_CAST appears twice)", () => {
    const columns = Array.from({ length: 12 }, (_, i) => `c${i}: int`).join(", ")
    const wide = compileModel(
      duckdb,
      nodeOf(`\nsilver:\n  wide:\n    from: bronze.orders\n    transforms: [ { cast: { columns: { ${columns} }, on_error: quarantine } } ]\n`, "silver.wide"),
      inputs
    )
    assert.strictEqual(wide.buildStage.split(`TRY_CAST("c7" AS int)`).length - 1, 2)
  })

  it("marks filtered rows with a reason instead of removing them", () => {
    assert.include(program.buildStage, `CASE WHEN "__medallion_removed" IS NULL AND (NOT coalesce(amount > 0, false)) THEN 'filter' ELSE "__medallion_removed" END`)
    assert.notMatch(program.buildStage, /\bWHERE amount > 0\b/)
  })

  it("flags each expectation in its own column, for alive rows only", () => {
    assert.deepStrictEqual(
      program.expectations.map((e) => [e.name, e.kind, e.onFail, e.flag]),
      [
        ["known_customer", "not_null", "quarantine", "__medallion_e0"],
        ["unique(order_id)", "unique", "drop", "__medallion_e1"],
        ["accepted_values(status)", "accepted_values", "warn", "__medallion_e2"]
      ]
    )
    assert.include(program.buildStage, `(s."__medallion_removed" IS NULL AND coalesce(s."customer_id" IS NULL, false)) AS "__medallion_e0"`)
    // unique counts only the rows no cast or other expectation sets aside, in a second select over the first flags.
    assert.include(
      program.buildStage,
      `NOT (s."__medallion_cast_q" IS NOT NULL OR s."__medallion_e0") AND (s."order_id" IS NOT NULL) AND (count(*) OVER (PARTITION BY s."__medallion_removed" IS NULL AND NOT (s."__medallion_cast_q" IS NOT NULL OR s."__medallion_e0"), s."order_id") > 1)`
    )
    // Text literals take the column's type: accepted numbers match DECIMAL values too.
    assert.include(program.buildStage, `s."status" NOT IN ('paid', 'shipped')`)
  })

  it("publishes alive rows that are neither quarantined nor dropped; quarantines with the reasons", () => {
    const hidden = `* EXCLUDE ("__medallion_removed", "__medallion_cast_q", "__medallion_cast_f", "__medallion_e0", "__medallion_e1", "__medallion_e2")`
    assert.strictEqual(
      program.output,
      `SELECT ${hidden} FROM "__stage_silver_orders" WHERE "__medallion_removed" IS NULL AND NOT ("__medallion_cast_q" IS NOT NULL OR "__medallion_e0") AND NOT ("__medallion_e1")`
    )
    assert.isDefined(program.quarantine)
    includesInOrder(program.quarantine!, [
      `SELECT ${hidden}`,
      `list_concat(list_filter([CASE WHEN "__medallion_e0" THEN 'known_customer' END], lambda x: x IS NOT NULL), coalesce(list_sort(list_distinct(list_transform("__medallion_cast_q", lambda e: split_part(e, chr(31), 1)))), CAST([] AS VARCHAR[]))) AS _expectations`,
      `nullif(array_to_string(list_transform(list_filter("__medallion_cast_q", lambda e: split_part(e, chr(31), 1) = 'cast(amount)'), lambda e: split_part(e, chr(31), 2)), ''), '') AS "_raw_amount"`,
      `'B-1' AS _quarantine_batch_id`,
      `CAST('2024-05-01T12:00:00.000Z' AS TIMESTAMPTZ) AS _quarantined_at`,
      `WHERE "__medallion_removed" IS NULL AND ("__medallion_cast_q" IS NOT NULL OR "__medallion_e0")`
    ])
  })

  it("classifies by markers and flags with one grouped count", () => {
    assert.strictEqual(
      program.classify,
      `SELECT "__medallion_removed", "__medallion_cast_q" IS NOT NULL AS "__medallion_cast_q", list_sort(list_distinct(list_transform("__medallion_cast_f", lambda e: split_part(e, chr(31), 1)))) AS "__medallion_cast_f", "__medallion_e0", "__medallion_e1", "__medallion_e2", count(*) AS n FROM "__stage_silver_orders" GROUP BY 1, 2, 3, 4, 5, 6` +
        // The leading dedupe left its duplicates out of the stage: they are the input's rows minus the staged ones.
        ` UNION ALL SELECT 'duplicate', NULL, NULL, NULL, NULL, NULL, (SELECT count(*) FROM "bronze"."orders") - (SELECT count(*) FROM "__stage_silver_orders") AS n`
    )
    // Samples come from the raw values kept in the cast-failure entries, not the NULLed column.
    assert.include(
      program.castFailureSample("amount"),
      `SELECT DISTINCT split_part(e, chr(31), 2) AS value FROM (SELECT unnest("__medallion_cast_f") AS e FROM "__stage_silver_orders") WHERE split_part(e, chr(31), 1) = 'amount'`
    )
  })

  it("has no quarantine when nothing can be quarantined", () => {
    const plain = compileModel(
      duckdb,
      nodeOf(
        `
silver:
  plain:
    from: bronze.orders
    transforms: [ { cast: { columns: { amount: int }, on_error: "null" } } ]
    expect: [ { check: amount > 0, on_fail: drop } ]
`,
        "silver.plain"
      ),
      inputs
    )
    assert.isUndefined(plain.quarantine)
    assert.include(plain.buildStage, `TRY_CAST("amount" AS int) AS "amount"`)
    assert.notInclude(plain.buildStage, "list_concat")
  })

  it("a cast set to fail marks failures by column; before an aggregate it is a strict CAST", () => {
    const node = nodeOf(
      `
gold:
  totals:
    from: bronze.orders
    transforms:
      - cast: { amount: int }
      - aggregate: { by: [status], metrics: { total: sum(amount) } }
      - cast: { total: bigint }
`,
      "gold.totals"
    )
    const totals = compileModel(duckdb, node, inputs)
    assert.include(totals.buildStage, `CAST("amount" AS int) AS "amount"`)
    assert.notInclude(totals.buildStage, `TRY_CAST("amount"`)
    // After the last reshape the cast is tried and failures are collected for CastFailed.
    assert.include(totals.buildStage, `TRY_CAST("total" AS bigint)`)
    assert.include(
      totals.buildStage,
      `nullif(list_concat(coalesce("__medallion_cast_f", CAST([] AS VARCHAR[])), list_filter([CASE WHEN "__medallion_removed" IS NULL AND "total" IS NOT NULL AND TRY_CAST("total" AS bigint) IS NULL THEN 'total' || chr(31) || CAST("total" AS VARCHAR) END], lambda x: x IS NOT NULL)), CAST([] AS VARCHAR[]))`
    )
    // The aggregate discards marked rows first and restarts the markers.
    includesInOrder(totals.buildStage, [
      `alive_1 AS (SELECT * EXCLUDE ("__medallion_removed", "__medallion_cast_q", "__medallion_cast_f") FROM step_1 WHERE "__medallion_removed" IS NULL)`,
      `step_2 AS (SELECT *, CAST(NULL AS VARCHAR) AS "__medallion_removed"`,
      `FROM (SELECT status, sum(amount) AS "total" FROM alive_1 GROUP BY 1) AS q)`
    ])
  })

  it("window, mask, derive and join compile to DuckDB functions", () => {
    const node = nodeOf(
      `
silver:
  customers: { from: bronze.customers }
  enriched:
    from: bronze.orders
    transforms:
      - window: { column: ordered_at, every: 1h, as: hour }
      - window: { column: ordered_at, every: 15 minutes, as: quarter }
      - window: { column: ordered_at, every: 1 day, as: day }
      - mask: { email: hash, phone: partial, name: redact, note: "null" }
      - derive: { total: amount * 2, total2: total + 1 }
      - join: { to: silver.customers, on: [customer_id], how: inner, columns: [segment] }
`,
      "silver.enriched"
    )
    const sql = compileModel(duckdb, node, inputs).buildStage
    assert.include(sql, `time_bucket(INTERVAL '1 hour', "ordered_at") AS "hour"`)
    assert.include(sql, `time_bucket(INTERVAL '15 minutes', "ordered_at") AS "quarter"`)
    assert.include(sql, `time_bucket(INTERVAL '1 day', "ordered_at") AS "day"`)
    assert.include(sql, `CASE WHEN "email" IS NULL THEN NULL ELSE sha256(CAST("email" AS VARCHAR)) END AS "email"`)
    assert.include(sql, `right(CAST("phone" AS VARCHAR), 4)`)
    assert.include(sql, `'[REDACTED]'`)
    assert.include(sql, `COLUMNS(lambda c: c <> 'total'), amount * 2 AS "total"`)
    // A later derive reads from the one before it, nested.
    assert.include(sql, `total + 1 AS "total2" FROM (SELECT COLUMNS(lambda c: c <> 'total'), amount * 2 AS "total" FROM (SELECT * FROM step_4))`)
    assert.include(sql, `LEFT JOIN (`)
    assert.include(sql, `FROM "silver"."customers") r ON l."customer_id" = r."customer_id"`)
    assert.include(sql, `r."segment"`)
    assert.include(sql, `THEN 'join_unmatched'`)
  })

  it("join: columns under new names; a join that quarantines or drops its unmatched rows needs a stage, one that keeps them does not", () => {
    const program = (transforms: string) => compileModel(duckdb, nodeOf(`\nsilver:\n  t:\n    from: bronze.orders\n    transforms: ${transforms}\n`, "silver.t"), inputs)
    const quarantining = program(`[ { join: { to: bronze.customers, on: "l.cust = r.id", columns: { cust_country: country }, on_unmatched: quarantine } } ]`)
    includesInOrder(quarantining.buildStage, [
      `SELECT l.* EXCLUDE ("__medallion_cast_q"), r."country" AS "cust_country", `,
      `CASE WHEN l."__medallion_removed" IS NULL AND r."__medallion_match" IS NULL THEN list_concat(coalesce(l."__medallion_cast_q", CAST([] AS VARCHAR[])), list_filter(['join(bronze.customers on l.cust = r.id)'], lambda x: x IS NOT NULL)) ELSE l."__medallion_cast_q" END AS "__medallion_cast_q"`,
      "FROM step_0 l LEFT JOIN ("
    ])
    assert.isFalse(quarantining.keepsEveryRow)
    assert.isDefined(quarantining.quarantine)
    const dropping = program(`[ { join: { to: bronze.customers, on: [id], on_unmatched: drop, name: known_customer } } ]`)
    assert.include(dropping.buildStage, `THEN 'join_unmatched:known_customer' ELSE l."__medallion_removed" END AS "__medallion_removed"`)
    assert.isFalse(dropping.keepsEveryRow)
    assert.isUndefined(dropping.quarantine)
    assert.isTrue(program(`[ { join: { to: bronze.customers, on: [id], columns: [country], on_unmatched: keep } } ]`).keepsEveryRow)
  })

  it("top: row_number per group with the whole row as the last tie-break, ORDER BY ... LIMIT without a group, rank with ties; it changes the grain", () => {
    const program = (top: string, inputColumns?: ReadonlyArray<string>) =>
      compileModel(duckdb, nodeOf(`\ngold:\n  t:\n    from: bronze.orders\n    transforms: [ { top: ${top} } ]\n`, "gold.t"), { ...inputs, inputColumns })
    const arrival = ["status", "_ingested_at", "_source_file", "_source_row"]
    includesInOrder(program("{ n: 3, order_by: amount desc, by: [status] }", arrival).buildStage, [
      `alive_0 AS (SELECT * EXCLUDE ("__medallion_removed", "__medallion_cast_q", "__medallion_cast_f") FROM step_0 WHERE "__medallion_removed" IS NULL)`,
      `FROM (SELECT * FROM alive_0) AS "__medallion_row" QUALIFY row_number() OVER (PARTITION BY "status" ORDER BY amount desc, "_ingested_at" DESC, "_source_file" DESC, "_source_row" DESC, "__medallion_row") <= 3`
    ])
    assert.include(
      program("{ n: 3, order_by: [amount, status] }").buildStage,
      `FROM (SELECT * FROM alive_0) AS "__medallion_row" ORDER BY amount, status, "__medallion_row" LIMIT 3`
    )
    assert.include(
      program("{ n: 3, order_by: amount desc, by: [status], with_ties: true }", arrival).buildStage,
      `FROM (SELECT * FROM alive_0) AS r QUALIFY rank() OVER (PARTITION BY "status" ORDER BY amount desc) <= 3`
    )
    // Nothing after it sets rows aside: its rows are published as they come, no stage.
    assert.isTrue(program("{ n: 3, order_by: amount desc }").keepsEveryRow)
    // A leading dedupe before it filters and is not counted: counting starts after the top.
    const deduped = compileModel(
      duckdb,
      nodeOf(
        `\ngold:\n  t:\n    from: bronze.orders\n    transforms: [ { dedupe: { keys: [order_id] } }, { top: { n: 3, order_by: amount } }, { filter: amount > 0 } ]\n`,
        "gold.t"
      ),
      inputs
    )
    assert.include(deduped.buildStage, 'QUALIFY row_number() OVER (PARTITION BY "order_id") = 1')
    assert.notInclude(deduped.classify, "UNION ALL")
  })

  it("append reads only the new input batches", () => {
    const node = planOf(`
version: 1
pipeline: golden
sources: { orders: { format: csv, path: data/orders.csv, incremental: true } }
bronze: { orders: { from: orders } }
silver:
  feed: { from: bronze.orders, mode: append }
`).nodes.get("silver.feed") as ModelNode
    assert.include(compileModel(duckdb, node, { ...inputs, newInputBatches: ["b1", "b'2"] }).buildStage, `FROM "bronze"."orders" WHERE "_batch_id" IN ('b1', 'b''2')`)
    assert.include(compileModel(duckdb, node, { ...inputs, newInputBatches: [] }).buildStage, `WHERE "_batch_id" IN (NULL)`)
    assert.notInclude(compileModel(duckdb, node, inputs).buildStage, `"_batch_id" IN`)
  })

  it("resolves {{ input }} and {{ layer.table }} references", () => {
    const node = nodeOf(
      `
silver:
  customers: { from: bronze.customers }
  by_sql:
    from: bronze.orders
    transforms:
      - sql: "select o.*, c.name from {{ input }} o join {{silver.customers}} c using (customer_id)"
gold:
  top:
    sql: "select customer_id, count(*) as n from {{ silver.by_sql }} group by 1"
`,
      "silver.by_sql"
    )
    const sql = compileModel(duckdb, node, inputs).buildStage
    assert.include(sql, `select o.*, c.name from alive_0 o join "silver"."customers" c using (customer_id)`)
    assert.notInclude(sql, "{{")
    const top = compileModel(
      duckdb,
      planOf(`${header}
silver:
  by_sql: { from: bronze.orders }
gold:
  top:
    sql: "select customer_id, count(*) as n from {{ silver.by_sql }} group by 1"
`).nodes.get("gold.top") as ModelNode,
      inputs
    )
    assert.include(top.buildStage, `FROM (select customer_id, count(*) as n from "silver"."by_sql" group by 1) AS q`)
  })

  it("a view's query hides markers and marked rows, and casts strictly", () => {
    const node = nodeOf(
      `
silver:
  live:
    from: bronze.orders
    mode: view
    transforms: [ { cast: { amount: int } }, { filter: amount > 0 } ]
    expect: [ { check: amount < 100, on_fail: fail } ]
`,
      "silver.live"
    )
    const view = compileModel(duckdb, node, inputs)
    assert.include(view.chainQuery, `CAST("amount" AS int) AS "amount"`)
    assert.notInclude(view.chainQuery, "TRY_CAST")
    assert.match(view.chainQuery, /SELECT \* EXCLUDE \("__medallion_removed", "__medallion_cast_q", "__medallion_cast_f"\) FROM final WHERE "__medallion_removed" IS NULL$/)
    assert.include(
      view.classifyView,
      `count(*) AS n FROM (SELECT s.*, (s."__medallion_removed" IS NULL AND coalesce(NOT coalesce(amount < 100, false), false)) AS "__medallion_e0" FROM final s) AS flagged`
    )
  })

  it("a chain that keeps every row is built without a stage; any step or expectation that can set rows aside needs one", () => {
    const keeps = (transforms: string, expect = "") =>
      compileModel(duckdb, nodeOf(`\nsilver:\n  t:\n    from: bronze.orders\n    transforms: ${transforms}\n${expect}`, "silver.t"), inputs).keepsEveryRow
    assert.isTrue(keeps(`[ { cast: { amount: int } }, { fill_nulls: { segment: consumer } }, { derive: { d: amount * 2 } }, { lowercase: [status] } ]`))
    assert.isTrue(keeps(`[ { join: { to: bronze.customers, on: [customer_id], how: left } }, { aggregate: { by: [status], metrics: { n: count(*) } } } ]`))
    assert.isTrue(keeps(`[ { cast: { columns: { amount: int }, on_error: "null" } } ]`))
    for (const marking of [
      `[ { filter: amount > 0 } ]`,
      `[ { drop_nulls: [amount] } ]`,
      `[ { dedupe: { keys: [order_id] } } ]`,
      `[ { join: { to: bronze.customers, on: [customer_id], how: inner } } ]`,
      `[ { cast: { columns: { amount: int }, on_error: quarantine } } ]`
    ])
      assert.isFalse(keeps(marking), marking)
    assert.isFalse(keeps(`[ { cast: { amount: int } } ]`, `    expect: [ { check: amount > 0 } ]\n`))
    // Before the last aggregate, rows set aside are not counted: those steps filter and the table is built directly.
    assert.isTrue(
      keeps(
        `[ { filter: amount > 0 }, { drop_nulls: [status] }, { join: { to: bronze.customers, on: [customer_id], how: inner } }, { aggregate: { by: [status], metrics: { n: count(*) } } } ]`
      )
    )
    assert.isFalse(keeps(`[ { aggregate: { by: [status], metrics: { n: count(*) } } }, { filter: n > 1 } ]`))
    const merge = nodeOf(`\nsilver:\n  m:\n    from: bronze.orders\n    mode: merge\n    key: [order_id]\n    sequence_by: updated_at\n`, "silver.m")
    assert.isFalse(compileModel(duckdb, merge, inputs).keepsEveryRow, "a merge dedupes by key")
    const strict = compileModel(duckdb, nodeOf(`\nsilver:\n  t:\n    from: bronze.orders\n    transforms: [ { cast: { amount: int } } ]\n`, "silver.t"), inputs)
    assert.isTrue(strict.castsCanFail)
    assert.include(strict.chainQuery, `CAST("amount" AS int) AS "amount"`)
  })

  it("before the last aggregate, filter, drop_nulls and inner joins remove rows instead of marking them", () => {
    const node = nodeOf(
      `
gold:
  totals:
    from: bronze.orders
    transforms:
      - filter: status <> 'cancelled'
      - drop_nulls: [amount]
      - join: { to: bronze.customers, on: [customer_id], how: inner, columns: [segment] }
      - aggregate: { by: [segment], metrics: { n: count(*) } }
      - filter: n > 10
`,
      "gold.totals"
    )
    const sql = compileModel(duckdb, node, inputs).buildStage
    includesInOrder(sql, [
      `step_1 AS (SELECT * FROM step_0 WHERE coalesce(status <> 'cancelled', false))`,
      `step_2 AS (SELECT * FROM step_1 WHERE NOT ("amount" IS NULL))`,
      `FROM step_2 l INNER JOIN (`,
      // After the aggregate the filter marks, so the rows it sets aside are counted.
      `step_5 AS (SELECT * REPLACE (CASE WHEN "__medallion_removed" IS NULL AND (NOT coalesce(n > 10, false)) THEN 'filter'`
    ])
    assert.notInclude(sql, "join_unmatched")
  })

  it("is deterministic", () => {
    assert.deepStrictEqual(
      JSON.stringify(compileModel(duckdb, orders, inputs), (_, v) => (typeof v === "function" ? String(v("x")) : v)),
      JSON.stringify(compileModel(duckdb, orders, inputs), (_, v) => (typeof v === "function" ? String(v("x")) : v))
    )
  })
})
