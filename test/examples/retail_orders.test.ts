/**
 * The shipped examples (pipelines/*.yaml over data/) through the real runner: every table balances,
 * the retail example's dirty rows (see data/retail/generate.ts) end where the pipeline sends them,
 * re-applying changes no gold and doubles no append, and appending file by file gives the same gold.
 */
import { cpSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { cli, engine, repoRoot, rows, runPlan } from "../support/project.ts"
import { assertAccounting, count, countsOf, examplePlan, exampleProject, expectationFailures, goldSnapshot, sqlPath, withZeros } from "./examples.ts"

/** What the first apply of both examples reports, table by table. */
const firstRun = withZeros({
  "bronze.fx_rates": { rows_in: 4, rows_out: 4 },
  "bronze.customers": { rows_in: 85, rows_out: 85 },
  // 320 well-formed orders + 5 exact duplicates + 4 older versions; 4 malformed lines rejected.
  "bronze.orders": { rows_in: 333, rows_out: 329, rejected: 4 },
  "silver.fx_rates": { rows_in: 4, rows_out: 4 },
  // 80 customers + 3 older versions + 1 exact duplicate + 1 record without id.
  "silver.customers": { rows_in: 85, rows_out: 80, quarantined: 1, duplicates: 4 },
  "silver.orders": { rows_in: 329, rows_out: 300, quarantined: 13, dropped: 7, duplicates: 9 },
  "gold.order_facts": { rows_in: 300, rows_out: 300 },
  "gold.customer_ltv": { rows_in: 77, rows_out: 77 },
  "gold.daily_revenue": { rows_in: 181, rows_out: 181 },
  "gold.top_customers": { rows_in: 10, rows_out: 10 },
  "bronze.jaffle_raw_customers": { rows_in: 100, rows_out: 100 },
  "bronze.jaffle_raw_orders": { rows_in: 99, rows_out: 99 },
  "bronze.jaffle_raw_payments": { rows_in: 113, rows_out: 113 },
  "silver.jaffle_stg_customers": { rows_in: 100, rows_out: 100 },
  "silver.jaffle_stg_orders": { rows_in: 99, rows_out: 99 },
  "silver.jaffle_stg_payments": { rows_in: 113, rows_out: 113 },
  "gold.jaffle_customers": { rows_in: 100, rows_out: 100 },
  "gold.jaffle_orders": { rows_in: 99, rows_out: 99 }
})

const tableCounts = Effect.gen(function* () {
  const tables = ["bronze.orders", "bronze.orders__rejects", "silver.orders", "silver.orders__quarantine", "silver.customers", "silver.customers__quarantine"]
  const result: Record<string, number> = {}
  for (const table of tables) result[table] = yield* count(`SELECT count(*)::INTEGER AS n FROM ${table}`)
  return result
})

describe("example pipelines", () => {
  it.effect("run, account for every row, and put the dirty rows where the pipeline says", () => {
    const project = exampleProject(["retail_orders.yaml", "jaffle_shop.yaml"])
    const plan = examplePlan(project)
    const orderFiles = sqlPath(project, "data", "retail", "orders", "*.csv")
    const customerFile = sqlPath(project, "data", "retail", "customers.ndjson")
    return Effect.gen(function* () {
      const report = yield* runPlan(project, plan)
      assertAccounting(report)
      assert.deepStrictEqual(countsOf(report), firstRun)

      // Orders: where each kind of dirty row went.
      const orders = report.tables.find((t) => t.table === "silver.orders")!
      assert.deepStrictEqual(orders.dropped_by_reason, { drop_nulls: 2, filter: 3, "expectation:known_customer": 2 })
      const orderFailures = expectationFailures(report, "silver.orders")
      assert.strictEqual(orderFailures["known_currency"], 2)
      assert.strictEqual(orderFailures["known_customer"], 2)
      assert.strictEqual(orderFailures["accepted_values(status)"], 2)
      assert.strictEqual(orderFailures["unique(order_id)"], 0)
      const quarantine = yield* rows(`
        SELECT array_to_string(list_sort(_expectations), ' + ') AS reasons, count(*)::INTEGER AS n
        FROM silver.orders__quarantine GROUP BY 1 ORDER BY 1`)
      assert.deepStrictEqual(quarantine, [
        { reasons: "cast(amount) + positive_amount", n: 2 }, // "abc", "12.3.4": amount is NULL after the cast
        { reasons: "cast(ordered_at) + not_null(customer_id, ordered_at)", n: 3 },
        { reasons: "known_currency", n: 2 },
        { reasons: "not_null(customer_id, ordered_at)", n: 3 }, // 2 without customer, 1 without timestamp
        { reasons: "positive_amount", n: 3 } // -25.00, -3.50, 0.00
      ])
      assert.deepStrictEqual(yield* rows("SELECT amount::VARCHAR AS amount FROM silver.orders__quarantine WHERE _expectations = ['positive_amount'] ORDER BY 1"), [
        { amount: "-25.00" },
        { amount: "-3.50" },
        { amount: "0.00" }
      ])
      assert.deepStrictEqual(
        yield* rows("SELECT error_type, count(*)::INTEGER AS n, count(DISTINCT source_file)::INTEGER AS files FROM bronze.orders__rejects GROUP BY 1 ORDER BY 1"),
        [
          { error_type: "MISSING COLUMNS", n: 2, files: 2 },
          { error_type: "TOO MANY COLUMNS", n: 2, files: 2 }
        ]
      )
      assert.deepStrictEqual(
        yield* rows(`
        SELECT count(*) FILTER (WHERE channel = 'test')::INTEGER AS test_orders,
               count(*) FILTER (WHERE customer_id IN (999, 4040))::INTEGER AS orphans,
               count(*) FILTER (WHERE status = 'on_hold')::INTEGER AS on_hold,
               count(*) FILTER (WHERE status <> lower(trim(status)) OR channel <> lower(trim(channel)))::INTEGER AS untidy,
               count(*) FILTER (WHERE currency IS NULL OR channel IS NULL OR discount IS NULL OR amount_usd IS NULL)::INTEGER AS nulls,
               count(DISTINCT order_id)::INTEGER AS ids
        FROM silver.orders`),
        [{ test_orders: 0, orphans: 0, on_hold: 2, untidy: 0, nulls: 0, ids: 300 }]
      )

      // Dedupe kept the latest version of each order: compare with the raw files, read independently.
      const latest = `
        SELECT order_id, arg_max(amount, updated_at) AS amount, arg_max(status, updated_at) AS status,
               count(DISTINCT amount) > 1 AS revised
        FROM read_csv(${orderFiles}, all_varchar = true, ignore_errors = true)
        WHERE order_id IS NOT NULL GROUP BY order_id`
      assert.deepStrictEqual(
        yield* rows(`
        SELECT count(*)::INTEGER AS matched,
               count(*) FILTER (WHERE s.amount <> CAST(l.amount AS DECIMAL(12, 2)) OR s.status <> lower(trim(l.status)))::INTEGER AS different,
               count(*) FILTER (WHERE l.revised)::INTEGER AS revised
        FROM silver.orders s JOIN (${latest}) l ON s.order_id = CAST(l.order_id AS BIGINT)`),
        [{ matched: 300, different: 0, revised: 4 }]
      )
      assert.strictEqual(
        yield* count(
          "SELECT count(*)::INTEGER AS n FROM silver.orders WHERE amount_usd <> round((amount - discount) * CASE currency WHEN 'EUR' THEN 1.0921 WHEN 'GBP' THEN 1.2715 ELSE 1 END, 2)"
        ),
        0
      )

      // Customers: latest version, masked PII, unreadable dates as NULL, the record without id quarantined.
      const customerFailures = expectationFailures(report, "silver.customers")
      assert.deepStrictEqual(customerFailures, { "not_null(customer_id)": 1, "unique(customer_id)": 0, "accepted_values(country)": 1, valid_email: 1 })
      assert.deepStrictEqual(
        yield* rows(`
        WITH raw AS (
          SELECT id, arg_max(email, updated_at) AS email, arg_max(phone, updated_at) AS phone
          FROM read_json(${customerFile}, format = 'newline_delimited', columns = { id: 'BIGINT', email: 'VARCHAR', phone: 'VARCHAR', updated_at: 'VARCHAR' })
          WHERE id IS NOT NULL GROUP BY id
        )
        SELECT count(*)::INTEGER AS customers,
               count(*) FILTER (WHERE c.email = sha256(lower(trim(raw.email))))::INTEGER AS hashed_latest_email,
               count(*) FILTER (WHERE c.phone = repeat('*', length(raw.phone) - 4) || right(raw.phone, 4))::INTEGER AS partial_phone,
               count(*) FILTER (WHERE c.full_name = '[REDACTED]')::INTEGER AS redacted_name,
               count(*) FILTER (WHERE c.date_of_birth IS NULL)::INTEGER AS no_birth_date,
               count(*) FILTER (WHERE c.signup_date IS NULL)::INTEGER AS no_signup_date,
               count(*) FILTER (WHERE c.segment IS NULL)::INTEGER AS no_segment
        FROM silver.customers c JOIN raw ON c.customer_id = raw.id`),
        [{ customers: 80, hashed_latest_email: 80, partial_phone: 80, redacted_name: 80, no_birth_date: 80, no_signup_date: 2, no_segment: 0 }]
      )
      assert.deepStrictEqual(yield* rows("SELECT customer_id, _expectations FROM silver.customers__quarantine"), [{ customer_id: null, _expectations: ["not_null(customer_id)"] }])

      // Gold agrees with silver, and the exports hold the same rows.
      assert.deepStrictEqual(
        yield* rows(`
        SELECT (SELECT sum(orders)::INTEGER FROM gold.daily_revenue) AS orders,
               (SELECT sum(revenue_usd)::VARCHAR FROM gold.daily_revenue) AS revenue,
               (SELECT count(*)::INTEGER FROM silver.orders WHERE status NOT IN ('cancelled', 'returned')) AS silver_orders,
               (SELECT sum(amount_usd)::VARCHAR FROM silver.orders WHERE status NOT IN ('cancelled', 'returned')) AS silver_revenue,
               (SELECT sum(lifetime_value_usd)::VARCHAR FROM gold.customer_ltv) AS ltv`),
        yield* rows(`
        SELECT (SELECT count(*)::INTEGER FROM silver.orders WHERE status NOT IN ('cancelled', 'returned')) AS orders,
               (SELECT sum(amount_usd)::VARCHAR FROM silver.orders WHERE status NOT IN ('cancelled', 'returned')) AS revenue,
               (SELECT count(*)::INTEGER FROM silver.orders WHERE status NOT IN ('cancelled', 'returned')) AS silver_orders,
               (SELECT sum(amount_usd)::VARCHAR FROM silver.orders WHERE status NOT IN ('cancelled', 'returned')) AS silver_revenue,
               (SELECT sum(amount_usd)::VARCHAR FROM silver.orders WHERE status NOT IN ('cancelled', 'returned')) AS ltv`)
      )
      assert.deepStrictEqual(
        yield* rows("SELECT min(ltv_rank)::INTEGER AS first, max(ltv_rank)::INTEGER AS last, count(DISTINCT email_sha256)::INTEGER AS people FROM gold.top_customers"),
        [{ first: 1, last: 10, people: 10 }]
      )
      assert.deepStrictEqual(
        yield* rows(`SELECT count(*)::INTEGER AS n, sum(revenue_usd)::DECIMAL(18, 2)::VARCHAR AS revenue, count(DISTINCT day)::INTEGER AS days
          FROM read_parquet(${sqlPath(project, "exports", "daily_revenue", "*", "*.parquet")}, hive_partitioning = true)`),
        yield* rows("SELECT count(*)::INTEGER AS n, sum(revenue_usd)::DECIMAL(18, 2)::VARCHAR AS revenue, count(DISTINCT day)::INTEGER AS days FROM gold.daily_revenue")
      )
      assert.strictEqual(yield* count(`SELECT count(*)::INTEGER AS n FROM read_csv(${sqlPath(project, "exports", "top_customers.csv")})`), 10)

      // Apply again: every table is unchanged and gold is the same.
      const gold = yield* goldSnapshot
      const tables = yield* tableCounts
      assert.deepStrictEqual(tables, {
        "bronze.orders": 329,
        "bronze.orders__rejects": 4,
        "silver.orders": 300,
        "silver.orders__quarantine": 13,
        "silver.customers": 80,
        "silver.customers__quarantine": 1
      })
      const again = yield* runPlan(project, plan)
      assertAccounting(again)
      const second = countsOf(again)
      const nothing = { rows_in: 0, rows_out: 0, quarantined: 0, dropped: 0, duplicates: 0, rejected: 0 }
      assert.deepStrictEqual(second["bronze.orders"], nothing)
      assert.deepStrictEqual(second["silver.orders"], nothing)
      // Nothing changed, so nothing runs.
      assert.deepStrictEqual(
        again.tables.filter((t) => t.status !== "unchanged").map((t) => t.table),
        []
      )
      assert.deepStrictEqual(yield* tableCounts, tables)
      const goldAgain = yield* goldSnapshot
      assert.deepStrictEqual(Object.keys(goldAgain), ["customer_ltv", "daily_revenue", "jaffle_customers", "jaffle_orders", "order_facts", "top_customers"])
      assert.deepStrictEqual(goldAgain, gold)
    }).pipe(Effect.provide(engine(project)), Effect.ensuring(Effect.sync(project.remove)))
  })

  it.effect("append file by file: a new month is ingested alone and gives the same gold as all at once", () => {
    const march = "retail/orders/orders_2024-03.csv"
    const allAtOnce = exampleProject(["retail_orders.yaml"])
    const byFile = exampleProject(["retail_orders.yaml"], (file) => file === march)
    const plan = examplePlan(allAtOnce)
    const expected = Effect.gen(function* () {
      assertAccounting(yield* runPlan(allAtOnce, plan))
      return yield* goldSnapshot
    }).pipe(Effect.provide(engine(allAtOnce)))
    const actual = Effect.gen(function* () {
      const first = yield* runPlan(byFile, plan)
      assertAccounting(first)
      assert.include(first.tables.find((t) => t.table === "bronze.orders")?.reason, "2 file(s)")
      cpSync(join(repoRoot, "data", march), join(byFile.dir, "data", march))
      const second = yield* runPlan(byFile, plan)
      assertAccounting(second)
      assert.include(second.tables.find((t) => t.table === "bronze.orders")?.reason, "incremental: files changed; 1 file(s), 2 already ingested")
      // Each month's counts add up to those of the single run.
      const [before, after] = [countsOf(first), countsOf(second)]
      for (const table of ["bronze.orders", "silver.orders"]) {
        for (const key of ["rows_in", "rows_out", "quarantined", "dropped", "duplicates", "rejected"] as const) {
          assert.strictEqual(before[table]![key] + after[table]![key], firstRun[table]![key], `${table} ${key}`)
        }
        assert.isAbove(after[table]!.rows_out, 0, table)
      }
      assert.strictEqual(yield* count("SELECT count(DISTINCT _batch_id)::INTEGER AS n FROM silver.orders"), 2)
      assert.strictEqual(yield* count("SELECT count(*)::INTEGER AS n FROM silver.orders__quarantine"), 13)
      return yield* goldSnapshot
    }).pipe(Effect.provide(engine(byFile)))
    return Effect.gen(function* () {
      assert.deepStrictEqual(yield* actual, yield* expected)
    }).pipe(
      Effect.ensuring(
        Effect.sync(() => {
          allAtOnce.remove()
          byFile.remove()
        })
      )
    )
  })

  it("apply exits 0 from the command line, twice", () => {
    const project = exampleProject(["retail_orders.yaml", "jaffle_shop.yaml"])
    try {
      const first = cli(project.dir, ["apply"])
      assert.strictEqual(first.code, 0, first.stdout + first.stderr)
      assert.match(first.stdout, /run succeeded: 18 succeeded, 0 unchanged, 0 failed, 0 skipped/)
      const second = cli(project.dir, ["apply"])
      assert.strictEqual(second.code, 0, second.stdout + second.stderr)
      assert.match(second.stdout, /same\s+bronze\.orders\s+append\s+unchanged/)
      assert.match(second.stdout, /run succeeded: 0 succeeded, 18 unchanged, 0 failed, 0 skipped/)
    } finally {
      project.remove()
    }
  })
})
