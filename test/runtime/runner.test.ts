/**
 * The runner over the DAG: failures stop only their dependents, and every run leaves its record in
 * the `_medallion` metadata tables.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { aroundStatements, Executor } from "../../src/executor/Executor.ts"
import { MetadataStore } from "../../src/metadata/MetadataStore.ts"
import { planOf, runPlan } from "../support/project.ts"
import { column, inProject, query, succeeded, tableOf } from "./harness.ts"

const files = {
  "data/orders.csv": "order_id,amount\n1,10\n2,-20\n3,30\n",
  "data/customers.csv": "customer_id,name\n1,Ann\n2,Ben\n"
}

const plan = planOf(`
version: 1
pipeline: dag
sources:
  orders: { format: csv, path: data/orders.csv }
  customers: { format: csv, path: data/customers.csv }
  missing: { format: csv, path: data/nothing/*.csv }
bronze:
  orders: { from: orders }
  customers: { from: customers }
  missing: { from: missing }
silver:
  orders:
    from: bronze.orders
    transforms: [ { cast: { amount: integer } } ]
    expect: [ { name: positive, check: amount > 0, on_fail: fail } ]
  customers:
    from: bronze.customers
    expect:
      - { not_null: [name], on_fail: fail }
      - { unique: [customer_id], on_fail: warn }
  from_missing:
    from: bronze.missing
gold:
  order_totals:
    from: silver.orders
    transforms: [ { aggregate: { metrics: { total: sum(amount) } } } ]
  report:
    sql: "select count(*) as n from {{ gold.order_totals }} cross join {{ silver.customers }}"
  customer_count:
    from: silver.customers
    transforms: [ { aggregate: { metrics: { n: "count(*)" } } } ]
`)

/** Two tables, bronze and silver, over the customers file. */
const small = planOf(`
version: 1
pipeline: small
sources: { customers: { format: csv, path: data/customers.csv } }
bronze: { customers: { from: customers } }
silver: { customers: { from: bronze.customers } }
`)

describe("runner", () => {
  it.effect("a failing table skips its dependents, naming the upstream; independent tables succeed", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(project, plan)
        assert.strictEqual(report.run.status, "failed")
        const status = Object.fromEntries(report.tables.map((t) => [t.table, t.status]))
        assert.deepStrictEqual(status, {
          "bronze.customers": "succeeded",
          "bronze.missing": "failed",
          "bronze.orders": "succeeded",
          "silver.customers": "succeeded",
          "silver.from_missing": "skipped",
          "silver.orders": "failed",
          "gold.customer_count": "succeeded",
          "gold.order_totals": "skipped",
          "gold.report": "skipped"
        })
        assert.include(tableOf(report, "silver.orders").error, "expectation positive failed for 1 row(s)")
        assert.include(tableOf(report, "bronze.missing").error, "no files match")
        assert.strictEqual(tableOf(report, "silver.from_missing").reason, "upstream bronze.missing failed")
        assert.strictEqual(tableOf(report, "gold.order_totals").reason, "upstream silver.orders failed")
        // Transitively: report depends on order_totals, which was skipped.
        assert.strictEqual(tableOf(report, "gold.report").reason, "upstream gold.order_totals skipped")
        for (const id of ["silver.from_missing", "gold.order_totals", "gold.report"]) {
          const t = tableOf(report, id)
          assert.deepStrictEqual([t.error, t.rows_in, t.rows_out], [null, 0, 0])
        }
        // Nothing was written for failed or skipped tables; the independent branch is complete.
        const gold = yield* column("SELECT table_name FROM information_schema.tables WHERE table_schema = 'gold' ORDER BY 1", "table_name")
        assert.deepStrictEqual(gold, ["customer_count"])
        assert.deepStrictEqual(yield* query("SELECT n::INTEGER AS n FROM gold.customer_count"), [{ n: 2 }])
        assert.strictEqual(report.run.errors, 2)
      })
    )
  )

  it.effect("the run and its tables, expectations and batches are recorded in _medallion", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(project, plan)
        const id = report.run.batch_id

        const runs = yield* query(
          `SELECT batch_id, status, pipelines, env, engine, errors::INTEGER AS errors, records_in::INTEGER AS records_in, records_out::INTEGER AS records_out FROM _medallion.runs`
        )
        assert.deepStrictEqual(runs, [
          {
            batch_id: id,
            status: "failed",
            pipelines: "dag",
            env: "test",
            engine: "duckdb",
            errors: 2,
            records_in: report.run.records_in,
            records_out: report.run.records_out
          }
        ])
        assert.isAbove(report.run.records_in, 0)

        const tables = yield* query(
          `SELECT table_id, status, reason, rows_in::INTEGER AS rows_in, rows_out::INTEGER AS rows_out FROM _medallion.run_tables WHERE batch_id = '${id}' ORDER BY table_id`
        )
        assert.deepStrictEqual(
          tables.map((t) => t["table_id"]),
          report.tables.map((t) => t.table).toSorted()
        )
        for (const stored of tables) {
          const t = tableOf(report, String(stored["table_id"]))
          assert.deepStrictEqual(stored, { table_id: t.table, status: t.status, reason: t.reason, rows_in: t.rows_in, rows_out: t.rows_out })
        }

        // The failed table reports no counts, so only the succeeded silver table has expectation results.
        const expectations = yield* query(
          `SELECT table_id, expectation, kind, on_fail, passed::INTEGER AS passed, failed::INTEGER AS failed FROM _medallion.expectation_results WHERE batch_id = '${id}' ORDER BY table_id, expectation`
        )
        assert.deepStrictEqual(expectations, [
          { table_id: "silver.customers", expectation: "not_null(name)", kind: "not_null", on_fail: "fail", passed: 2, failed: 0 },
          { table_id: "silver.customers", expectation: "unique(customer_id)", kind: "unique", on_fail: "warn", passed: 2, failed: 0 }
        ])

        // One batch per table written in the run, with its row count.
        const batches = yield* query(`SELECT table_id, layer, source, record_count::INTEGER AS n FROM _medallion.batches WHERE batch_id = '${id}' ORDER BY table_id`)
        assert.deepStrictEqual(batches, [
          { table_id: "bronze.customers", layer: "bronze", source: "customers", n: 2 },
          { table_id: "bronze.orders", layer: "bronze", source: "orders", n: 3 },
          { table_id: "gold.customer_count", layer: "gold", source: "silver.customers", n: 1 },
          { table_id: "silver.customers", layer: "silver", source: "bronze.customers", n: 2 }
        ])

        // The store reads back what it wrote.
        const store = yield* MetadataStore
        const readBack = yield* store.runTables(id)
        assert.deepStrictEqual(
          readBack.map((t) => [t.table, t.status, t.rows_in, t.rows_out, t.expectations.length, t.dropped_by_reason]),
          report.tables.toSorted((a, b) => a.table.localeCompare(b.table)).map((t) => [t.table, t.status, t.rows_in, t.rows_out, t.expectations.length, t.dropped_by_reason])
        )
        const recent = yield* store.recentRuns(5)
        assert.deepStrictEqual(
          recent.map((r) => [r.batch_id, r.status]),
          [[id, "failed"]]
        )
      })
    )
  )

  it.live("two runs get different batch ids, and both are recorded with their own tables", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const first = yield* runPlan(project, small)
        const second = yield* runPlan(project, small, [], { fullRefresh: true })
        assert.strictEqual(first.run.status, "succeeded")
        assert.strictEqual(second.run.status, "succeeded")
        assert.notStrictEqual(first.run.batch_id, second.run.batch_id)
        for (const r of [first, second]) assert.match(r.run.batch_id, /^\d{8}T\d{9}Z-[0-9a-f]{8}$/)
        succeeded(second, "silver.customers")

        const runs = yield* query("SELECT batch_id, status FROM _medallion.runs ORDER BY batch_id")
        assert.deepStrictEqual(
          runs,
          [first, second].map((r) => ({ batch_id: r.run.batch_id, status: "succeeded" })).toSorted((a, b) => a.batch_id.localeCompare(b.batch_id))
        )
        const perRun = yield* query("SELECT batch_id, count(*)::INTEGER AS n FROM _medallion.run_tables GROUP BY 1 ORDER BY 1")
        assert.deepStrictEqual(
          perRun.map((r) => r["n"]),
          [2, 2]
        )
        // The published rows carry the latest run's batch id.
        assert.deepStrictEqual(yield* column("SELECT DISTINCT _batch_id FROM silver.customers", "_batch_id"), [second.run.batch_id])
      })
    )
  )

  it.live("a run names its unchanged tables on the run row and records only the tables that ran", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const first = yield* runPlan(project, small)
        assert.deepStrictEqual(first.run.unchanged_tables, [])
        const noop = yield* runPlan(project, small)
        assert.deepStrictEqual(
          noop.tables.map((t) => t.status),
          ["unchanged", "unchanged"]
        )
        assert.deepStrictEqual(noop.run.unchanged_tables, ["bronze.customers", "silver.customers"])

        const stored = yield* query("SELECT batch_id, unchanged_tables FROM _medallion.runs ORDER BY batch_id")
        assert.deepStrictEqual(stored, [
          { batch_id: first.run.batch_id, unchanged_tables: "" },
          { batch_id: noop.run.batch_id, unchanged_tables: "bronze.customers,silver.customers" }
        ])
        const perRun = yield* query("SELECT batch_id, count(*)::INTEGER AS n FROM _medallion.run_tables GROUP BY 1")
        assert.deepStrictEqual(perRun, [{ batch_id: first.run.batch_id, n: 2 }])

        const store = yield* MetadataStore
        assert.deepStrictEqual(yield* store.runTables(noop.run.batch_id), [])
        assert.deepStrictEqual((yield* store.findRun(noop.run.batch_id))?.unchanged_tables, ["bronze.customers", "silver.customers"])
        assert.deepStrictEqual(
          (yield* store.recentRuns(5)).map((r) => r.unchanged_tables.length),
          [2, 0]
        )
        assert.isUndefined(yield* store.findRun("no-such-run"))
      })
    )
  )

  it.live("a table's record commits with the table: while a later table runs, the run lists the published ones with their counts", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const three = planOf(`
version: 1
pipeline: three
sources: { customers: { format: csv, path: data/customers.csv } }
bronze: { customers: { from: customers } }
silver:
  customers:
    from: bronze.customers
    expect: [ { not_null: [name], on_fail: warn } ]
gold:
  tally:
    from: silver.customers
    transforms: [ { aggregate: { metrics: { n: "count(*)" } } } ]
`)
        // The gold table's first statement waits until the history has been read.
        const reached = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const held = aroundStatements(yield* Executor, (sql, statement) =>
          sql.startsWith("CREATE") && sql.includes("tally") ? Effect.andThen(Deferred.succeed(reached, undefined), Effect.andThen(Deferred.await(release), statement)) : statement
        )
        const running = yield* Effect.forkChild(runPlan(project, three).pipe(Effect.provideService(Executor, held)))
        yield* Deferred.await(reached)
        const during = yield* query(`SELECT r.status AS run, t.table_id, t.status, t.rows_in::INTEGER AS rows_in, t.rows_out::INTEGER AS rows_out
          FROM _medallion.runs r JOIN _medallion.run_tables t USING (batch_id) ORDER BY t.table_id`)
        assert.deepStrictEqual(during, [
          { run: "running", table_id: "bronze.customers", status: "succeeded", rows_in: 2, rows_out: 2 },
          { run: "running", table_id: "silver.customers", status: "succeeded", rows_in: 2, rows_out: 2 }
        ])
        const expectations = yield* query("SELECT table_id, expectation, passed::INTEGER AS passed FROM _medallion.expectation_results")
        assert.deepStrictEqual(expectations, [{ table_id: "silver.customers", expectation: "not_null(name)", passed: 2 }])
        yield* Deferred.succeed(release, undefined)
        const report = yield* Fiber.join(running)
        assert.strictEqual(report.run.status, "succeeded")
        // Each table recorded once, as the report has it.
        const store = yield* MetadataStore
        assert.deepStrictEqual(
          yield* store.runTables(report.run.batch_id),
          report.tables.toSorted((a, b) => a.table.localeCompare(b.table))
        )
        assert.deepStrictEqual(yield* column("SELECT count(*)::INTEGER AS n FROM _medallion.expectation_results", "n"), [1])
      })
    )
  )

  it.live("a table's duration is its own time, not the time it waited for a concurrency slot", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const two = planOf(`
version: 1
pipeline: two
sources:
  orders: { format: csv, path: data/orders.csv }
  customers: { format: csv, path: data/customers.csv }
bronze:
  orders: { from: orders }
  customers: { from: customers }
`)
        // Each bronze build takes at least 2 s; with one slot the second table waits for the first, and
        // would measure 4 s or more if the wait counted (the margin leaves room for a busy machine).
        const slow = aroundStatements(yield* Executor, (sql, statement) =>
          /^CREATE OR REPLACE TABLE "bronze"\."(orders|customers)__next"/.test(sql) ? Effect.andThen(Effect.sleep("2 seconds"), statement) : statement
        )
        const report = yield* runPlan(project, two, [], { concurrency: 1 }).pipe(Effect.provideService(Executor, slow))
        const durations = report.tables.map((t) => t.duration_seconds)
        assert.deepStrictEqual(
          report.tables.map((t) => t.status),
          ["succeeded", "succeeded"]
        )
        for (const d of durations) assert.isAtLeast(d, 2)
        assert.isBelow(Math.max(...durations), 3.8, `durations ${durations.join(", ")}: the wait is not counted`)
        assert.isAtLeast(report.run.duration_seconds, 4)
      })
    )
  )
})
