/**
 * Golden tests of the Spark SQL (Databricks) dialect: the exact statements compileModel,
 * compileIngest and the publish helpers make for every transform, expectation action and mode.
 * The compile stage is pure, so these need no warehouse; the stand-in server (test/databricks)
 * runs the same statements end to end.
 */
import { assert, describe, it } from "@effect/vitest"
import { compileIngest } from "../../src/compile/ingest.ts"
import { compileModel, type ModelInputs } from "../../src/compile/model.ts"
import { appendStatements, replaceStatements } from "../../src/compile/publish.ts"
import { filesPattern, literalSpark, quoteSpark, spark } from "../../src/compile/spark.ts"
import type { IngestNode, ModelNode, TableId } from "../../src/plan/Plan.ts"
import { planOf } from "../support/project.ts"

const d = spark({ catalog: "main", schemaPrefix: "shop_" })
const inputs: ModelInputs = { batchId: "B-1", startedAt: "2024-05-01T12:00:00.000Z" }
const header = `
version: 1
pipeline: golden
sources:
  orders: { format: csv, path: data/orders.csv }
  customers: { format: csv, path: data/customers.csv }
bronze: { orders: { from: orders }, customers: { from: customers } }
`
const STAGE = "`main`.`shop__medallion`.`__stage_silver_t`"
const ORDERS = "`main`.`shop_bronze`.`orders`"
const HIDDEN = "`__medallion_removed`, `__medallion_cast_q`, `__medallion_cast_f`"
const START = "CAST(NULL AS STRING) AS `__medallion_removed`, CAST(NULL AS ARRAY<STRING>) AS `__medallion_cast_q`, CAST(NULL AS ARRAY<STRING>) AS `__medallion_cast_f`"
const ALIVE = "`__medallion_removed` IS NULL"

/** The plan node of silver.t (or `id`) built from the shared header and a table body. */
const model = (body: string, id = "silver.t"): ModelNode => {
  const node = planOf(`${header}${body}`).nodes.get(id as TableId)
  assert.isDefined(node, `no ${id}`)
  return node as ModelNode
}
/** silver.t with these transforms (a YAML flow list). */
const withSteps = (steps: string) => model(`silver:\n  t:\n    from: bronze.orders\n    transforms: ${steps}\n`)

/** The body of CTE `name` in a WITH statement (parentheses in strings and identifiers skipped). */
const cte = (sql: string, name: string): string => {
  const start = sql.indexOf(`${name} AS (`)
  assert.isAtLeast(start, 0, `no CTE ${name} in:\n${sql}`)
  let depth = 0
  let quote: string | undefined
  for (let i = start + name.length + 5; i < sql.length; i++) {
    const c = sql[i]!
    if (quote !== undefined) {
      if (c === "\\" && quote === "'") i++
      else if (c === quote) quote = undefined
    } else if (c === "'" || c === "`") quote = c
    else if (c === "(") depth++
    else if (c === ")") {
      if (depth === 0) return sql.slice(start + name.length + 5, i)
      depth--
    }
  }
  throw new Error(`unbalanced CTE ${name}`)
}
/** The first step's SQL for one transform. */
const step1 = (steps: string) => cte(compileModel(d, withSteps(steps), inputs).buildStage, "step_1")

describe("spark dialect: names and literals", () => {
  it("uses three-level names with one schema per layer under a prefix, backtick-quoted", () => {
    assert.strictEqual(d.table("silver", "orders"), "`main`.`shop_silver`.`orders`")
    assert.strictEqual(d.table("_medallion", "runs"), "`main`.`shop__medallion`.`runs`")
    assert.strictEqual(d.tempTable("__stage_x"), "`main`.`shop__medallion`.`__stage_x`")
    assert.strictEqual(spark({ catalog: "dev" }).table("gold", "kpis"), "`dev`.`gold`.`kpis`")
    assert.strictEqual(quoteSpark("we`ird"), "`we``ird`")
  })

  it("escapes string literals with backslashes, since Spark reads backslash escapes", () => {
    assert.strictEqual(literalSpark("it's"), "'it\\'s'")
    assert.strictEqual(literalSpark("a\\b"), "'a\\\\b'")
    assert.strictEqual(literalSpark(null), "NULL")
    assert.strictEqual(literalSpark(2.5), "2.5")
    assert.strictEqual(literalSpark(true), "true")
  })

  it("maps VARCHAR to STRING in casts and keeps other types as written", () => {
    assert.strictEqual(d.cast("x", "VARCHAR"), "CAST(x AS STRING)")
    assert.strictEqual(d.tryCast("x", "decimal(12,2)"), "TRY_CAST(x AS decimal(12,2))")
  })
})

describe("spark dialect: transforms", () => {
  it("starts the chain from the input table with markers unset (NULL)", () => {
    const program = compileModel(d, withSteps("[ { select: [a] } ]"), inputs)
    assert.strictEqual(cte(program.buildStage, "step_0"), `SELECT *, ${START} FROM ${ORDERS}`)
    assert.isTrue(program.buildStage.startsWith(`CREATE OR REPLACE TABLE ${STAGE} USING DELTA AS WITH step_0 AS (`))
    assert.isTrue(program.buildStage.endsWith("final AS (SELECT * FROM step_1)\nSELECT s.* FROM final s"))
    assert.strictEqual(program.dropStage, `DROP TABLE IF EXISTS ${STAGE}`)
  })

  it("select keeps the listed columns and the markers", () => {
    assert.strictEqual(step1(`[ { select: [a, "b + 1 AS c"] } ]`), `SELECT \`a\`, b + 1 AS c, ${HIDDEN} FROM step_0`)
  })

  it("drop uses * EXCEPT", () => {
    assert.strictEqual(step1("[ { drop: [a, b] } ]"), "SELECT * EXCEPT (`a`, `b`) FROM step_0")
  })

  it("rename takes the old column out and adds it under the new name", () => {
    assert.strictEqual(step1("[ { rename: { id: order_id } } ]"), "SELECT * EXCEPT (`id`), `id` AS `order_id` FROM step_0")
  })

  it("cast fails on bad values by default with a strict CAST (inside a reshaping chain)", () => {
    const program = compileModel(d, withSteps(`[ { cast: { n: bigint } }, { aggregate: { by: [n], metrics: { c: "count(*)" } } } ]`), inputs)
    assert.strictEqual(cte(program.buildStage, "step_1"), "SELECT * EXCEPT (`n`), CAST(`n` AS bigint) AS `n` FROM step_0")
  })

  it("cast with on_error: null uses TRY_CAST", () => {
    assert.strictEqual(step1(`[ { cast: { columns: { d: date }, on_error: "null" } } ]`), "SELECT * EXCEPT (`d`), TRY_CAST(`d` AS date) AS `d` FROM step_0")
  })

  it("cast with on_error: quarantine marks the row with cast(col)", () => {
    assert.strictEqual(
      step1(`[ { cast: { columns: { amount: "decimal(12,2)" }, on_error: quarantine } } ]`),
      "SELECT * EXCEPT (`amount`, `__medallion_cast_q`), TRY_CAST(`amount` AS decimal(12,2)) AS `amount`, " +
        `nullif(concat(coalesce(\`__medallion_cast_q\`, CAST(array() AS ARRAY<STRING>)), filter(array(CASE WHEN ${ALIVE} AND \`amount\` IS NOT NULL AND TRY_CAST(\`amount\` AS decimal(12,2)) IS NULL THEN 'cast(amount)' || chr(31) || CAST(\`amount\` AS STRING) END), x -> x IS NOT NULL)), CAST(array() AS ARRAY<STRING>)) AS \`__medallion_cast_q\` FROM step_0`
    )
  })

  it("cast with on_error: fail keeps each failing value for the error message", () => {
    const program = compileModel(d, withSteps(`[ { cast: { columns: { n: int }, on_error: fail } } ]`), inputs)
    assert.strictEqual(
      cte(program.buildStage, "step_1"),
      "SELECT * EXCEPT (`n`, `__medallion_cast_f`), TRY_CAST(`n` AS int) AS `n`, " +
        `nullif(concat(coalesce(\`__medallion_cast_f\`, CAST(array() AS ARRAY<STRING>)), filter(array(CASE WHEN ${ALIVE} AND \`n\` IS NOT NULL AND TRY_CAST(\`n\` AS int) IS NULL THEN 'n' || chr(31) || CAST(\`n\` AS STRING) END), x -> x IS NOT NULL)), CAST(array() AS ARRAY<STRING>)) AS \`__medallion_cast_f\` FROM step_0`
    )
    assert.strictEqual(
      program.castFailureSample("n"),
      `SELECT DISTINCT split_part(e, chr(31), 2) AS value FROM (SELECT explode(\`__medallion_cast_f\`) AS e FROM ${STAGE}) AS entries WHERE split_part(e, chr(31), 1) = 'n' ORDER BY 1 LIMIT 5`
    )
  })

  it("trim, lowercase and fill_nulls replace columns", () => {
    assert.strictEqual(step1("[ { trim: [a] } ]"), "SELECT * EXCEPT (`a`), trim(`a`) AS `a` FROM step_0")
    assert.strictEqual(step1("[ { lowercase: [a, b] } ]"), "SELECT * EXCEPT (`a`, `b`), lower(`a`) AS `a`, lower(`b`) AS `b` FROM step_0")
    assert.strictEqual(step1('[ { fill_nulls: { currency: "it\'s" } } ]'), "SELECT * EXCEPT (`currency`), coalesce(`currency`, 'it\\'s') AS `currency` FROM step_0")
  })

  it("drop_nulls and filter mark rows with their reason", () => {
    const mark = (reason: string, failing: string) =>
      `SELECT * EXCEPT (\`__medallion_removed\`), CASE WHEN ${ALIVE} AND (${failing}) THEN '${reason}' ELSE \`__medallion_removed\` END AS \`__medallion_removed\` FROM step_0`
    assert.strictEqual(step1("[ { drop_nulls: [a, b] } ]"), mark("drop_nulls", "`a` IS NULL OR `b` IS NULL"))
    assert.strictEqual(step1(`[ { filter: "amount > 0" } ]`), mark("filter", "NOT coalesce(amount > 0, false)"))
  })

  it("dedupe keeps the first or the last row per key", () => {
    const mark = (duplicate: string) =>
      `SELECT * EXCEPT (\`__medallion_removed\`), CASE WHEN ${ALIVE} AND (${duplicate}) THEN 'duplicate' ELSE \`__medallion_removed\` END AS \`__medallion_removed\` FROM step_0`
    // The first step keeps the first row per key before the markers are added.
    assert.strictEqual(
      cte(compileModel(d, withSteps(`[ { dedupe: { keys: [id], order_by: "ts desc" } } ]`), inputs).buildStage, "step_0"),
      `SELECT *, ${START} FROM (SELECT * EXCEPT (\`__medallion_rn\`) FROM (SELECT *, row_number() OVER (PARTITION BY \`id\` ORDER BY ts desc) AS \`__medallion_rn\` FROM (SELECT * FROM ${ORDERS}) AS r) AS n WHERE \`__medallion_rn\` = 1) AS q`
    )
    assert.strictEqual(step1(`[ { dedupe: { keys: [id], keep: last } } ]`), mark(`row_number() OVER (PARTITION BY \`id\`) < count(*) OVER (PARTITION BY \`id\`)`))
    // After a step that removes rows, only the rows still kept are compared.
    assert.include(
      cte(compileModel(d, withSteps(`[ { filter: "x > 0" }, { dedupe: { keys: [id] } } ]`), inputs).buildStage, "step_2"),
      `row_number() OVER (PARTITION BY ${ALIVE}, \`id\`) > 1`
    )
  })

  it("derive adds or replaces a column through a natural join with a row of NULLs", () => {
    assert.strictEqual(
      step1(`[ { derive: { x: "a + 1" } } ]`),
      "SELECT * EXCEPT (`__medallion_k`, `x`), a + 1 AS `x` FROM (SELECT * FROM (SELECT *, 0 AS `__medallion_k` FROM (SELECT * FROM step_0)) AS `__medallion_have` " +
        "NATURAL LEFT JOIN (SELECT NULL AS `__medallion_k`, NULL AS `x`) AS `__medallion_absent`)"
    )
  })

  it("mask hashes, redacts, keeps the last 4 characters or nulls", () => {
    assert.strictEqual(
      step1('[ { mask: { e: hash, n: redact, p: partial, b: "null" } } ]'),
      "SELECT * EXCEPT (`e`, `n`, `p`, `b`), " +
        "CASE WHEN `e` IS NULL THEN NULL ELSE sha2(CAST(`e` AS STRING), 256) END AS `e`, " +
        "CASE WHEN `n` IS NULL THEN NULL ELSE '[REDACTED]' END AS `n`, " +
        "CASE WHEN `p` IS NULL THEN NULL WHEN length(CAST(`p` AS STRING)) <= 4 THEN repeat('*', length(CAST(`p` AS STRING))) ELSE repeat('*', length(CAST(`p` AS STRING)) - 4) || right(CAST(`p` AS STRING), 4) END AS `p`, " +
        "CASE WHEN false THEN `b` END AS `b` FROM step_0"
    )
  })

  it("join: left or inner, on keys or an expression, leaving the right side's lineage out", () => {
    const right =
      "(SELECT * EXCEPT (`__medallion_k`, `_batch_id`, `_source_file`, `_ingested_at`, `_source_row`), true AS `__medallion_match` FROM (SELECT * FROM (SELECT *, 0 AS `__medallion_k` FROM `main`.`shop_bronze`.`customers`) AS `__medallion_have` " +
      "NATURAL LEFT JOIN (SELECT NULL AS `__medallion_k`, NULL AS `_batch_id`, NULL AS `_source_file`, NULL AS `_ingested_at`, NULL AS `_source_row`) AS `__medallion_absent`))"
    assert.strictEqual(
      step1("[ { join: { to: bronze.customers, on: [customer_id], columns: [country] } } ]"),
      `SELECT l.* EXCEPT (\`__medallion_removed\`), r.\`country\`, l.\`__medallion_removed\` AS \`__medallion_removed\` FROM step_0 l LEFT JOIN ${right} r ON l.\`customer_id\` = r.\`customer_id\``
    )
    assert.strictEqual(
      step1(`[ { join: { to: bronze.customers, on: "l.cust = r.id", how: inner } } ]`),
      `SELECT l.* EXCEPT (\`__medallion_removed\`), r.* EXCEPT (\`__medallion_match\`), CASE WHEN l.\`__medallion_removed\` IS NULL AND r.\`__medallion_match\` IS NULL THEN 'join_unmatched' ELSE l.\`__medallion_removed\` END AS \`__medallion_removed\` FROM step_0 l LEFT JOIN ${right} r ON l.cust = r.id`
    )
  })

  it("join: columns under new names; on_unmatched: quarantine adds the join's name to the quarantine marker, drop marks the row removed", () => {
    const right =
      "(SELECT * EXCEPT (`__medallion_k`, `_batch_id`, `_source_file`, `_ingested_at`, `_source_row`), true AS `__medallion_match` FROM (SELECT * FROM (SELECT *, 0 AS `__medallion_k` FROM `main`.`shop_bronze`.`customers`) AS `__medallion_have` " +
      "NATURAL LEFT JOIN (SELECT NULL AS `__medallion_k`, NULL AS `_batch_id`, NULL AS `_source_file`, NULL AS `_ingested_at`, NULL AS `_source_row`) AS `__medallion_absent`))"
    const missed = "l.`__medallion_removed` IS NULL AND r.`__medallion_match` IS NULL"
    assert.strictEqual(
      step1(`[ { join: { to: bronze.customers, on: "l.cust = r.id", columns: { cust_country: country, cust_name: name }, on_unmatched: quarantine } } ]`),
      "SELECT l.* EXCEPT (`__medallion_cast_q`), r.`country` AS `cust_country`, r.`name` AS `cust_name`, " +
        `CASE WHEN ${missed} THEN concat(coalesce(l.\`__medallion_cast_q\`, CAST(array() AS ARRAY<STRING>)), filter(array('join(bronze.customers on l.cust = r.id)'), x -> x IS NOT NULL)) ELSE l.\`__medallion_cast_q\` END AS \`__medallion_cast_q\` ` +
        `FROM step_0 l LEFT JOIN ${right} r ON l.cust = r.id`
    )
    assert.strictEqual(
      step1("[ { join: { to: bronze.customers, on: [id], columns: [], on_unmatched: drop, name: known } } ]"),
      `SELECT l.* EXCEPT (\`__medallion_removed\`), CASE WHEN ${missed} THEN 'join_unmatched:known' ELSE l.\`__medallion_removed\` END AS \`__medallion_removed\` FROM step_0 l LEFT JOIN ${right} r ON l.\`id\` = r.\`id\``
    )
    const program = compileModel(d, withSteps(`[ { join: { to: bronze.customers, on: [id], columns: [name], on_unmatched: quarantine } } ]`), inputs)
    // The quarantine query is there, and its reasons read the marker (as for casts).
    assert.include(program.quarantine, "array_sort(array_distinct(transform(`__medallion_cast_q`, e -> split_part(e, chr(31), 1))))")
    assert.include(program.quarantine, "WHERE `__medallion_removed` IS NULL AND (`__medallion_cast_q` IS NOT NULL)")
  })

  it("top: row_number per group over the whole row as a struct, ORDER BY ... LIMIT without a group, rank with ties", () => {
    const top = (spec: string) => cte(compileModel(d, withSteps(`[ { top: ${spec} } ]`), inputs).buildStage, "step_1")
    const around = (query: string) => `SELECT *, ${START} FROM (${query}) AS q`
    const withRow = "SELECT *, struct(*) AS `__medallion_row` FROM (SELECT * FROM alive_0) AS r"
    assert.strictEqual(
      top("{ n: 5, order_by: total desc, by: [a, b] }"),
      around(
        `SELECT * EXCEPT (\`__medallion_row\`, \`__medallion_rank\`) FROM (SELECT *, row_number() OVER (PARTITION BY \`a\`, \`b\` ORDER BY total desc, \`__medallion_row\`) AS \`__medallion_rank\` FROM (${withRow}) AS w) AS ranked WHERE \`__medallion_rank\` <= 5`
      )
    )
    assert.strictEqual(
      top("{ n: 5, order_by: total desc }"),
      around(`SELECT * EXCEPT (\`__medallion_row\`) FROM (SELECT * FROM (${withRow}) AS w ORDER BY total desc, \`__medallion_row\` LIMIT 5) AS firsts`)
    )
    assert.strictEqual(
      top("{ n: 5, order_by: [total desc, x], by: [a], with_ties: true }"),
      around(
        "SELECT * EXCEPT (`__medallion_rank`) FROM (SELECT *, rank() OVER (PARTITION BY `a` ORDER BY total desc, x) AS `__medallion_rank` FROM (SELECT * FROM alive_0) AS r) AS ranked WHERE `__medallion_rank` <= 5"
      )
    )
    // Arrival columns, when the rows carry them, come before the whole row (in the direction of the last term).
    const node = withSteps("[ { top: { n: 1, order_by: total desc, by: [a] } } ]")
    assert.include(
      cte(compileModel(d, node, { ...inputs, inputColumns: ["a", "total", "_ingested_at", "_source_file", "_source_row"] }).buildStage, "step_1"),
      "ORDER BY total desc, `_ingested_at` DESC, `_source_file` DESC, `_source_row` DESC, `__medallion_row`"
    )
  })

  it("aggregate discards marked rows first and starts the markers again", () => {
    const program = compileModel(d, withSteps(`[ { aggregate: { by: [day], metrics: { n: "count(*)", total: sum(amount) } } } ]`), inputs)
    assert.strictEqual(cte(program.buildStage, "alive_0"), `SELECT * EXCEPT (${HIDDEN}) FROM step_0 WHERE ${ALIVE}`)
    assert.strictEqual(cte(program.buildStage, "step_1"), `SELECT *, ${START} FROM (SELECT day, count(*) AS \`n\`, sum(amount) AS \`total\` FROM alive_0 GROUP BY 1) AS q`)
  })

  it("window buckets timestamps from DuckDB's origin (Monday 2000-01-03 UTC), in microseconds", () => {
    assert.strictEqual(
      step1("[ { window: { column: ts, every: 1 day, as: day } } ]"),
      "SELECT * EXCEPT (`__medallion_k`, `day`), timestamp_micros(CAST(floor((unix_micros(CAST(`ts` AS TIMESTAMP)) - 946857600000000) / 86400000000) AS BIGINT) * 86400000000 + 946857600000000) AS `day` " +
        "FROM (SELECT * FROM (SELECT *, 0 AS `__medallion_k` FROM step_0) AS `__medallion_have` NATURAL LEFT JOIN (SELECT NULL AS `__medallion_k`, NULL AS `day`) AS `__medallion_absent`)"
    )
    assert.include(step1("[ { window: { column: ts, every: 15 minutes, as: q } } ]"), "/ 900000000) AS BIGINT) * 900000000 +")
  })

  it("a sql step reads {{ input }}; a table's sql reads three-level names", () => {
    const program = compileModel(d, withSteps(`[ { sql: "SELECT a, count(*) AS n FROM {{ input }} GROUP BY a" } ]`), inputs)
    assert.strictEqual(cte(program.buildStage, "step_1"), `SELECT *, ${START} FROM (SELECT a, count(*) AS n FROM alive_0 GROUP BY a) AS q`)
    const fromSql = compileModel(d, model(`gold:\n  k:\n    sql: "SELECT * FROM {{ bronze.orders }} o JOIN {{ bronze.customers }} c USING (id)"\n`, "gold.k"), inputs)
    assert.strictEqual(cte(fromSql.buildStage, "step_0"), `SELECT *, ${START} FROM (SELECT * FROM ${ORDERS} o JOIN \`main\`.\`shop_bronze\`.\`customers\` c USING (id)) AS q`)
  })
})

describe("spark dialect: expectations and their actions", () => {
  const program = compileModel(
    d,
    model(`
silver:
  t:
    from: bronze.orders
    expect:
      - { name: positive, check: amount > 0, on_fail: warn }
      - { not_null: [id, ts], on_fail: drop }
      - { unique: [id], on_fail: quarantine }
      - { accepted_values: { column: status, values: [paid, 5] }, on_fail: fail }
      - { relationships: { column: customer_id, to: bronze.customers, field: id }, on_fail: quarantine }
`),
    inputs
  )
  const flags = "`__medallion_e0`, `__medallion_e1`, `__medallion_e2`, `__medallion_e3`, `__medallion_e4`"

  it("flags every expectation kind in its own column, for rows still alive", () => {
    const flagged = program.buildStage.slice(program.buildStage.lastIndexOf("\nSELECT s.*") + 1)
    const setAside = "s.`__medallion_cast_q` IS NOT NULL OR s.`__medallion_e1` OR s.`__medallion_e4`"
    assert.strictEqual(
      flagged,
      "SELECT s.*, " +
        `(s.\`__medallion_removed\` IS NULL AND coalesce(NOT (${setAside}) AND (s.\`id\` IS NOT NULL) AND (count(*) OVER (PARTITION BY s.\`__medallion_removed\` IS NULL AND NOT (${setAside}), s.\`id\`) > 1), false)) AS \`__medallion_e2\` ` +
        "FROM (SELECT s.*, " +
        "(s.`__medallion_removed` IS NULL AND coalesce(NOT coalesce(amount > 0, false), false)) AS `__medallion_e0`, " +
        "(s.`__medallion_removed` IS NULL AND coalesce(s.`id` IS NULL OR s.`ts` IS NULL, false)) AS `__medallion_e1`, " +
        "(s.`__medallion_removed` IS NULL AND coalesce(s.`status` IS NOT NULL AND s.`status` NOT IN ('paid', '5'), false)) AS `__medallion_e3`, " +
        "(s.`__medallion_removed` IS NULL AND coalesce(s.`customer_id` IS NOT NULL AND (SELECT count(*) FROM `main`.`shop_bronze`.`customers` r WHERE r.`id` = s.`customer_id`) = 0, false)) AS `__medallion_e4` " +
        "FROM final s) s"
    )
    assert.deepStrictEqual(
      program.expectations.map((e) => [e.name, e.onFail]),
      [
        ["positive", "warn"],
        ["not_null(id, ts)", "drop"],
        ["unique(id)", "quarantine"],
        ["accepted_values(status)", "fail"],
        ["relationships(customer_id -> bronze.customers.id)", "quarantine"]
      ]
    )
  })

  it("publishes rows neither quarantined nor dropped (warn keeps them; fail is enforced before publishing)", () => {
    assert.strictEqual(
      program.output,
      `SELECT * EXCEPT (${HIDDEN}, ${flags}) FROM ${STAGE} WHERE ${ALIVE} AND NOT (\`__medallion_cast_q\` IS NOT NULL OR \`__medallion_e2\` OR \`__medallion_e4\`) AND NOT (\`__medallion_e1\`)`
    )
  })

  it("quarantines with the failed expectation names, the first of them, the batch and the time", () => {
    assert.strictEqual(
      program.quarantine,
      `SELECT * EXCEPT (${HIDDEN}, ${flags}), ` +
        "concat(filter(array(CASE WHEN `__medallion_e2` THEN 'unique(id)' END, CASE WHEN `__medallion_e4` THEN 'relationships(customer_id -> bronze.customers.id)' END), x -> x IS NOT NULL), coalesce(array_sort(array_distinct(transform(`__medallion_cast_q`, e -> split_part(e, chr(31), 1)))), CAST(array() AS ARRAY<STRING>))) AS _expectations, " +
        "coalesce(split_part(try_element_at(`__medallion_cast_q`, 1), chr(31), 1), CASE WHEN `__medallion_e2` THEN 'unique(id)' WHEN `__medallion_e4` THEN 'relationships(customer_id -> bronze.customers.id)' END) AS _reason, " +
        `'B-1' AS _quarantine_batch_id, CAST('2024-05-01T12:00:00.000Z' AS TIMESTAMP) AS _quarantined_at FROM ${STAGE} WHERE ${ALIVE} AND (\`__medallion_cast_q\` IS NOT NULL OR \`__medallion_e2\` OR \`__medallion_e4\`)`
    )
  })

  it("classifies every row with one grouped count (fail and warn are counted here)", () => {
    assert.strictEqual(
      program.classify,
      "SELECT `__medallion_removed`, `__medallion_cast_q` IS NOT NULL AS `__medallion_cast_q`, array_sort(array_distinct(transform(`__medallion_cast_f`, e -> split_part(e, chr(31), 1)))) AS `__medallion_cast_f`, " +
        `${flags}, count(*) AS n FROM ${STAGE} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8`
    )
  })

  it("has no quarantine query when nothing can be quarantined", () => {
    const plain = compileModel(d, model(`silver:\n  t: { from: bronze.orders, expect: [ { not_null: [id], on_fail: drop } ] }\n`), inputs)
    assert.isUndefined(plain.quarantine)
  })
})

describe("spark dialect: modes", () => {
  const target = "`main`.`shop_silver`.`t`"
  const next = "`main`.`shop_silver`.`t__next`"

  it("replace builds a Delta table beside the target, swaps it in and cleans up", () => {
    const statements = replaceStatements(d, [{ layer: "silver", name: "t", query: "SELECT 1 AS a" }])
    assert.deepStrictEqual(statements.build, [`CREATE OR REPLACE TABLE ${next} USING DELTA AS SELECT 1 AS a`])
    assert.deepStrictEqual(statements.swap(new Set()), [`DROP TABLE IF EXISTS ${target}`, `ALTER TABLE ${next} RENAME TO ${target}`])
    assert.deepStrictEqual(statements.swap(new Set(["t"])), [`DROP VIEW IF EXISTS ${target}`, `ALTER TABLE ${next} RENAME TO ${target}`])
    assert.deepStrictEqual(statements.cleanup, [`DROP TABLE IF EXISTS ${next}`])
  })

  it("append creates the table empty when missing, then inserts by name", () => {
    assert.deepStrictEqual(appendStatements(d, { layer: "silver", name: "t", query: "SELECT 1 AS a" }), {
      create: `CREATE TABLE IF NOT EXISTS ${target} USING DELTA AS SELECT * FROM (SELECT 1 AS a) LIMIT 0`,
      insert: `INSERT INTO ${target} BY NAME SELECT 1 AS a`
    })
  })

  it("merge upserts by key with MERGE INTO, optionally only rows not older by sequence_by", () => {
    assert.strictEqual(
      d.merge(target, "SELECT * FROM s", ["id", "line"], undefined),
      `MERGE INTO ${target} AS t USING (SELECT * FROM s) AS s ON t.\`id\` = s.\`id\` AND t.\`line\` = s.\`line\`\n      WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *`
    )
    assert.strictEqual(
      d.merge(target, "SELECT * FROM s", ["id"], "updated_at"),
      `MERGE INTO ${target} AS t USING (SELECT * FROM s) AS s ON t.\`id\` = s.\`id\`\n      WHEN MATCHED AND s.\`updated_at\` >= t.\`updated_at\` THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *`
    )
    // A merge keeps one row per key: of the rows that pass, the newest by sequence_by (then arrival), the others counted as duplicates.
    const node = model(`silver:\n  t: { from: bronze.orders, mode: merge, key: [id], sequence_by: updated_at }\n`)
    const program = compileModel(d, node, { ...inputs, inputColumns: ["id", "updated_at", "_batch_id", "_source_file", "_ingested_at", "_source_row"] })
    assert.include(
      program.buildStage,
      "CASE WHEN (`__medallion_removed` IS NULL AND NOT (`__medallion_cast_q` IS NOT NULL)) AND row_number() OVER (PARTITION BY (`__medallion_removed` IS NULL AND NOT (`__medallion_cast_q` IS NOT NULL)), `id` ORDER BY `updated_at` DESC, `_ingested_at` DESC, `_source_file` DESC, `_source_row` DESC) > 1 THEN 'duplicate' ELSE `__medallion_removed` END AS `__medallion_removed`"
    )
  })

  it("view creates or replaces a view over the chain with marked rows left out and strict casts", () => {
    const node = model(`silver:\n  t: { from: bronze.orders, mode: view, transforms: [ { cast: { columns: { n: int }, on_error: "null" } } ] }\n`)
    const program = compileModel(d, node, inputs)
    assert.strictEqual(d.createOrReplaceView(target, "SELECT 1"), `CREATE OR REPLACE VIEW ${target} AS SELECT 1`)
    assert.isTrue(program.chainQuery.endsWith(`SELECT * EXCEPT (${HIDDEN}) FROM final WHERE ${ALIVE}`))
    assert.include(program.chainQuery, "TRY_CAST(`n` AS int)")
  })

  it("appends and merges read only the new input batches", () => {
    const node = model(`silver:\n  t: { from: bronze.orders, mode: merge, key: [id], sequence_by: ts }\n`)
    const program = compileModel(d, node, { ...inputs, newInputBatches: ["b1", "it's"] })
    assert.include(cte(program.buildStage, "step_0"), `FROM ${ORDERS} WHERE \`_batch_id\` IN ('b1', 'it\\'s')`)
  })
})

describe("spark dialect: sources", () => {
  const ingest = (source: string, files: ReadonlyArray<string>) => {
    const node = planOf(`version: 1\npipeline: p\nsources: { s: ${source} }\nbronze: { raw: { from: s } }\n`).nodes.get("bronze.raw" as TableId) as IngestNode
    return compileIngest(d, node, {
      batchId: "B-1",
      startedAt: "2024-05-01T12:00:00.000Z",
      files: files.map((path) => ({ path, name: path, batchId: "B-1", ingestedAt: "2024-05-01T12:00:00.000Z" }))
    })
  }
  const stage = "`main`.`shop__medallion`.`__stage_bronze_raw`"
  const lineage = "monotonically_increasing_id() + 1 AS `_source_row`, 'B-1' AS `_batch_id`, CAST('2024-05-01T12:00:00.000Z' AS TIMESTAMP) AS `_ingested_at`"

  it("reads CSV with read_files as text, a file at a time, dropping malformed lines, with each row's file and position", () => {
    const program = ingest(`{ format: csv, path: "d/*.csv", options: { delimiter: ";", quote: "'", escape: "\\\\" } }`, ["/d/a.csv", "/d/b.csv"])
    assert.strictEqual(
      program.createStage,
      `CREATE OR REPLACE TABLE ${stage} USING DELTA AS SELECT * EXCEPT (\`_source_file\`), '/d/a.csv' AS \`_source_file\`, ${lineage} FROM (SELECT *, _metadata.file_path AS \`_source_file\` FROM read_files('/d/a.csv', format => 'csv', header => true, sep => ';', quote => '\\'', escape => '\\\\', inferColumnTypes => false, mode => 'DROPMALFORMED')) AS file`
    )
    assert.strictEqual(program.insertIntoStage(1), `INSERT INTO ${stage} BY NAME ${program.reads[1]}`)
    assert.include(program.reads[1]!, "read_files('/d/b.csv'")
    assert.strictEqual(program.countStage, `SELECT count(*) AS n FROM ${stage}`)
    assert.strictEqual(program.output, `SELECT * FROM ${stage}`)
    assert.isUndefined(program.rejected)
    assert.deepStrictEqual(program.cleanup, [`DROP TABLE IF EXISTS ${stage}`])
  })

  it("reads JSON arrays, newline-delimited JSON and Parquet", () => {
    assert.include(ingest("{ format: json, path: d.json }", ["/d/x.json"]).reads[0]!, "read_files('/d/x.json', format => 'json', multiLine => true)")
    assert.include(ingest("{ format: ndjson, path: d.ndjson }", ["/d/x.ndjson"]).reads[0]!, "read_files('/d/x.ndjson', format => 'json')")
    assert.include(ingest("{ format: parquet, path: d.parquet }", ["/d/x.parquet"]).reads[0]!, "read_files('/d/x.parquet', format => 'parquet')")
    assert.include(
      ingest("{ format: csv, path: d.csv, options: { header: false, infer_types: true } }", ["/d/x.csv"]).reads[0]!,
      "format => 'csv', header => false, inferColumnTypes => true"
    )
  })

  it("names several files with one glob under their common directory, escaping glob characters", () => {
    assert.strictEqual(filesPattern(["/v/x/a.csv"]), "/v/x/a.csv")
    assert.strictEqual(filesPattern([]), "") // the fingerprint compiles a source without files
    assert.strictEqual(filesPattern(["/v/x/a.csv", "/v/y/b{1}.csv"]), "/v/{x/a.csv,y/b\\{1\\}.csv}")
  })
})

describe("spark dialect: catalog queries", () => {
  it("finds schemas, tables, views and columns in the catalog's information_schema", () => {
    assert.strictEqual(d.listSchemas, "SELECT schema_name FROM `main`.information_schema.schemata")
    assert.strictEqual(d.schemaOf("gold"), "shop_gold")
    assert.strictEqual(d.createSchema("silver"), "CREATE SCHEMA IF NOT EXISTS `main`.`shop_silver`")
    assert.strictEqual(
      d.tablesIn(["bronze", "gold"]),
      "SELECT CASE table_schema WHEN 'shop_bronze' THEN 'bronze' WHEN 'shop_gold' THEN 'gold' END || '.' || table_name AS id FROM `main`.information_schema.tables WHERE table_schema IN ('shop_bronze', 'shop_gold')"
    )
    assert.strictEqual(
      d.viewsIn("gold", ["a", "b"]),
      "SELECT table_name FROM `main`.information_schema.tables WHERE table_schema = 'shop_gold' AND table_type = 'VIEW' AND table_name IN ('a', 'b')"
    )
    assert.strictEqual(
      d.columnsOf("silver", "t"),
      "SELECT column_name, full_data_type AS column_type FROM `main`.information_schema.columns WHERE table_schema = 'shop_silver' AND table_name = 't' ORDER BY ordinal_position"
    )
    assert.strictEqual(d.describe("SELECT 1"), "DESCRIBE QUERY SELECT 1")
    assert.deepStrictEqual(d.describeColumns, { name: "col_name", type: "data_type" })
    assert.strictEqual(d.addColumn("`main`.`shop_silver`.`t`", "c", "decimal(12,2)"), "ALTER TABLE `main`.`shop_silver`.`t` ADD COLUMN `c` decimal(12,2)")
  })

  it("exports through INSERT OVERWRITE DIRECTORY", () => {
    assert.strictEqual(d.exportFile("SELECT 1", "/v/out", "parquet", []), "INSERT OVERWRITE DIRECTORY '/v/out' USING PARQUET SELECT 1")
    assert.strictEqual(d.exportFile("SELECT 1", "/v/out", "csv", ["day"]), "INSERT OVERWRITE DIRECTORY '/v/out' USING CSV OPTIONS ('header' = 'true') SELECT 1")
  })
})
