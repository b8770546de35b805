/**
 * Transient executor failures are retried until the pipeline succeeds, with the attempts recorded;
 * a permanent failure stops the table with a typed error and leaves published tables as they were.
 */
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as DuckDbExecutor from "../../src/executor/DuckDbExecutor.ts"
import * as FlakyExecutor from "../../src/executor/FlakyExecutor.ts"
import * as SqlMetadataStore from "../../src/metadata/SqlMetadataStore.ts"
import { makeProject, planOf, rows, runPlan, type TestProject } from "../support/project.ts"

const pipeline = `
version: 1
pipeline: flaky
retry: { attempts: 6, initial: 5ms, max: 20ms }
sources: { orders: { format: csv, path: "data/*.csv", incremental: true } }
bronze: { orders: { from: orders } }
silver:
  orders:
    from: bronze.orders
    mode: append
    transforms: [ { cast: { id: int, amount: int } } ]
    expect: [ { check: amount > 0, on_fail: quarantine } ]
gold:
  totals: { from: silver.orders, transforms: [ { aggregate: { metrics: { n: count(*), total: sum(amount) } } } ] }
`

const database = (project: TestProject) => join(project.dir, ".medallion", "warehouse.duckdb")
const clean = (project: TestProject) => Layer.provideMerge(SqlMetadataStore.layer, DuckDbExecutor.layer({ path: database(project) })).pipe(Layer.provideMerge(NodeServices.layer))
/** The metadata store writes through the flaky executor too: its statements must survive retries as well. */
const flaky = (project: TestProject, options: FlakyExecutor.FlakyOptions) =>
  Layer.provideMerge(SqlMetadataStore.layer, FlakyExecutor.layer(options).pipe(Layer.provide(DuckDbExecutor.layer({ path: database(project) })))).pipe(
    Layer.provideMerge(NodeServices.layer)
  )

const gold = rows("SELECT n::INT AS n, total::INT AS total FROM gold.totals")

describe("resilience", () => {
  it.live("succeeds through transient failures of every 25th statement and records the attempts", () => {
    const project = makeProject({ "data/a.csv": "id,amount\n1,10\n2,-1\n", "data/b.csv": "id,amount\n3,5\n" })
    const plan = planOf(pipeline)
    return Effect.gen(function* () {
      const report = yield* runPlan(project, plan).pipe(Effect.provide(flaky(project, { every: 25 })))
      assert.strictEqual(report.run.status, "succeeded", JSON.stringify(report.tables.map((t) => [t.table, t.status, t.error])))
      const retried = report.tables.filter((t) => t.attempts > 1)
      assert.isAbove(retried.length, 0, "some table needed a retry")
      const recorded = yield* rows("SELECT table_id, attempts::INT AS attempts FROM _medallion.run_tables WHERE attempts > 1").pipe(Effect.provide(clean(project)))
      assert.deepStrictEqual(recorded.map((r) => r["table_id"]).sort(), retried.map((t) => t.table).sort())
      assert.deepStrictEqual(yield* gold.pipe(Effect.provide(clean(project))), [{ n: 2, total: 15 }])
      assert.strictEqual((yield* rows("SELECT count(*)::INT AS n FROM silver.orders__quarantine").pipe(Effect.provide(clean(project))))[0]!["n"], 1)
    }).pipe(Effect.ensuring(Effect.sync(project.remove)))
  })

  it.effect("a permanent failure stops the table with a typed error and leaves published tables as they were", () => {
    const project = makeProject({ "data/a.csv": "id,amount\n1,10\n" })
    const plan = planOf(pipeline)
    return Effect.gen(function* () {
      yield* runPlan(project, plan).pipe(Effect.provide(clean(project)))
      const before = yield* gold.pipe(Effect.provide(clean(project)))
      project.write("data/b.csv", "id,amount\n3,5\n")
      const report = yield* runPlan(project, plan).pipe(Effect.provide(flaky(project, { failPermanently: (sql) => sql.startsWith('INSERT INTO "silver"."orders" ') })))
      const silver = report.tables.find((t) => t.table === "silver.orders")!
      assert.strictEqual(silver.status, "failed")
      assert.strictEqual(silver.attempts, 1, "a permanent failure is not retried")
      assert.include(silver.error, "in statement: INSERT INTO")
      assert.strictEqual(report.tables.find((t) => t.table === "gold.totals")!.status, "skipped")
      // bronze took the new file; silver and gold are as they were, and the batch is still to be consumed.
      assert.deepStrictEqual(yield* gold.pipe(Effect.provide(clean(project))), before)
      assert.strictEqual((yield* rows("SELECT count(*)::INT AS n FROM silver.orders").pipe(Effect.provide(clean(project))))[0]!["n"], 1)
      const next = yield* runPlan(project, plan).pipe(Effect.provide(clean(project)))
      assert.strictEqual(next.run.status, "succeeded")
      assert.deepStrictEqual(yield* gold.pipe(Effect.provide(clean(project))), [{ n: 2, total: 15 }])
    }).pipe(Effect.ensuring(Effect.sync(project.remove)))
  })
})
