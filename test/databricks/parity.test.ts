/**
 * Parity: the shipped example pipelines (pipelines/*.yaml over data/) applied through the
 * Databricks executor against the stand-in warehouse give the same gold as through the DuckDB
 * executor, and every table accounts for its rows on both. A re-apply through Databricks is a
 * no-op (nothing doubled, gold unchanged).
 */
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { engine, makeProject, runPlan } from "../support/project.ts"
import { assertAccounting, countsOf, examplePlan, exampleProject } from "../examples/examples.ts"
import { compareGold, databricksEngine, TOKEN, WAREHOUSE } from "../support/databricks/engine.ts"
import { startStandIn } from "../support/databricks/server.ts"

describe("Databricks executor against the stand-in", () => {
  it.live(
    "runs the example pipelines to the same gold as DuckDB",
    () => {
      const project = exampleProject(["retail_orders.yaml", "jaffle_shop.yaml"])
      const plan = examplePlan(project)
      return Effect.gen(function* () {
        const duck = yield* runPlan(project, plan).pipe(Effect.provide(engine(project)))
        assertAccounting(duck)

        const standIn = yield* Effect.acquireRelease(
          Effect.promise(() => startStandIn({ catalog: "lakehouse", warehouseId: WAREHOUSE, token: TOKEN, rowsPerChunk: 50, databasePath: join(project.dir, "stand-in.duckdb") })),
          (s) => Effect.promise(() => s.close())
        )
        const databricks = yield* runPlan(project, plan).pipe(Effect.provide(databricksEngine(standIn)))
        assertAccounting(databricks)

        // The same counts, except that Spark's CSV reader drops malformed lines instead of keeping them aside.
        const expected = countsOf(duck)
        const rejected = expected["bronze.orders"]!.rejected
        assert.isAbove(rejected, 0)
        expected["bronze.orders"] = { ...expected["bronze.orders"]!, rows_in: expected["bronze.orders"]!.rows_in - rejected, rejected: 0 }
        assert.deepStrictEqual(countsOf(databricks), expected)

        const { problems, tables } = yield* Effect.promise(() => compareGold(standIn, join(project.dir, ".medallion", "warehouse.duckdb")))
        assert.deepStrictEqual(problems, [])
        assert.deepStrictEqual(Object.keys(tables).sort(), ["customer_ltv", "daily_revenue", "jaffle_customers", "jaffle_orders", "top_customers"])
        assert.isTrue(Object.values(tables).every((n) => n > 0))

        // A second apply finds nothing new and changes nothing.
        const again = yield* runPlan(project, plan).pipe(Effect.provide(databricksEngine(standIn)))
        assertAccounting(again)
        assert.deepStrictEqual(
          again.tables.filter((t) => t.status !== "unchanged").map((t) => t.table),
          []
        )
        assert.deepStrictEqual((yield* Effect.promise(() => compareGold(standIn, join(project.dir, ".medallion", "warehouse.duckdb")))).problems, [])
      }).pipe(Effect.scoped, Effect.ensuring(Effect.sync(project.remove)))
    },
    240_000
  )

  it.live(
    "appends new files with new columns and merges late, older rows the same way as DuckDB",
    () => {
      const files = {
        "pipelines/shop.yaml": `
version: 1
pipeline: shop
sources:
  events: { format: csv, path: "data/events/*.csv", incremental: true }
bronze:
  events: { from: events }
silver:
  events:
    from: bronze.events
    mode: append
    transforms: [ { cast: { columns: { id: integer, amount: "decimal(12,2)", version: integer }, on_error: quarantine } } ]
    expect: [ { check: amount > 0, on_fail: quarantine } ]
  latest:
    from: silver.events
    mode: merge
    key: [id]
    sequence_by: version
gold:
  totals:
    from: silver.latest
    transforms: [ { aggregate: { metrics: { n: "count(*)", total: sum(amount) } } } ]
`,
        "data/events/a.csv": "id,amount,version\n1,10.50,1\n2,-1,1\n3,7,1\nx,5,1\n"
      }
      const duckProject = makeProject(files)
      const dbxProject = makeProject(files)
      const later = "id,amount,version,channel\n1,99,2,web\n3,1,0,shop\n4,4.25,1,web\n"
      return Effect.gen(function* () {
        const standIn = yield* Effect.acquireRelease(
          Effect.promise(() => startStandIn({ catalog: "lakehouse", warehouseId: WAREHOUSE, token: TOKEN })),
          (s) => Effect.promise(() => s.close())
        )
        const plan = examplePlan(duckProject)
        const runBoth = Effect.gen(function* () {
          const duck = yield* runPlan(duckProject, plan).pipe(Effect.provide(engine(duckProject)))
          const dbx = yield* runPlan(dbxProject, plan).pipe(Effect.provide(databricksEngine(standIn, { schemaPrefix: "shop_" })))
          assertAccounting(duck)
          assertAccounting(dbx)
          assert.deepStrictEqual(countsOf(dbx), countsOf(duck))
          return dbx
        })
        yield* runBoth
        duckProject.write("data/events/b.csv", later)
        dbxProject.write("data/events/b.csv", later)
        const second = yield* runBoth
        assert.include(second.tables.find((t) => t.table === "bronze.events")!.reason ?? "", "new columns channel")
        for (const layer of ["bronze", "silver", "gold"]) {
          const { problems } = yield* Effect.promise(() => compareGold(standIn, join(duckProject.dir, ".medallion", "warehouse.duckdb"), "lakehouse", `shop_${layer}`, layer))
          assert.deepStrictEqual(problems, [])
        }
        // The late row (version 0) did not overwrite id 3; id 1 took version 2.
        assert.deepStrictEqual(yield* Effect.promise(() => standIn.query(`SELECT id, CAST(amount AS VARCHAR) AS amount FROM lakehouse.shop_silver.latest ORDER BY id`)), [
          { id: 1, amount: "99.00" },
          { id: 3, amount: "7.00" },
          { id: 4, amount: "4.25" }
        ])
      }).pipe(
        Effect.scoped,
        Effect.ensuring(
          Effect.sync(() => {
            duckProject.remove()
            dbxProject.remove()
          })
        )
      )
    },
    240_000
  )

  it.live(
    "rides out 429s, 503s, slow and transiently FAILED statements during an apply, to the same gold",
    () => {
      const project = exampleProject(["jaffle_shop.yaml"])
      const plan = examplePlan(project)
      return Effect.gen(function* () {
        assertAccounting(yield* runPlan(project, plan).pipe(Effect.provide(engine(project))))
        const standIn = yield* Effect.acquireRelease(
          Effect.promise(() => startStandIn({ catalog: "lakehouse", warehouseId: WAREHOUSE, token: TOKEN })),
          (s) => Effect.promise(() => s.close())
        )
        standIn.faults.rateLimit(3, 0)
        standIn.faults.unavailable(3)
        standIn.faults.unavailable(2, 0, "poll")
        standIn.faults.slow("INSERT INTO", 300)
        standIn.faults.fail(/^MERGE INTO|^INSERT INTO/, { error_code: "TEMPORARILY_UNAVAILABLE", message: "the warehouse is restarting" }, 3)
        const report = yield* runPlan(project, plan).pipe(Effect.provide(databricksEngine(standIn, { waitTimeout: "0 seconds" })))
        assertAccounting(report)
        assert.isTrue(
          report.tables.every((t) => t.attempts === 1),
          "the executor absorbed every fault; no table had to be run again"
        )
        const statuses = standIn.log.requests.map((r) => r.status)
        assert.strictEqual(statuses.filter((c) => c === 429).length, 3)
        assert.strictEqual(statuses.filter((c) => c === 503).length, 5)
        assert.strictEqual(standIn.log.failures.filter((f) => f.error_code === "TEMPORARILY_UNAVAILABLE").length, 3)
        assert.deepStrictEqual((yield* Effect.promise(() => compareGold(standIn, join(project.dir, ".medallion", "warehouse.duckdb")))).problems, [])
      }).pipe(Effect.scoped, Effect.ensuring(Effect.sync(project.remove)))
    },
    240_000
  )
})
