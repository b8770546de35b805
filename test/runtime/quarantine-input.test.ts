/**
 * A quarantine table read as an input (a data-quality mart): it runs after its owner and changes
 * with it, whether the owner rebuilds it (replace) or adds to it (append, read incrementally).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { RunReport } from "../../src/runtime/Runner.ts"
import { planOf, runPlan } from "../support/project.ts"
import { assertBalanced, inProject, query, succeeded } from "./harness.ts"

const statuses = (report: RunReport) => Object.fromEntries(report.tables.map((t) => [t.table, t.status]))

const plan = planOf(`
version: 1
pipeline: quality
sources:
  orders: { format: csv, path: "data/orders/*.csv", incremental: true }
  prices: { format: csv, path: data/prices.csv }
bronze:
  orders: { from: orders }
  prices: { from: prices }
silver:
  orders:
    from: bronze.orders
    mode: append
    transforms: [ { cast: { columns: { amount: integer }, on_error: quarantine } } ]
    expect: [ { check: amount > 0, name: positive, on_fail: quarantine } ]
  prices:
    from: bronze.prices
    transforms: [ { cast: { columns: { price: integer }, on_error: quarantine } } ]
gold:
  order_problems:
    from: silver.orders__quarantine
    transforms: [ { aggregate: { by: [_reason], metrics: { n: "count(*)" } } } ]
  problem_log:
    from: silver.orders__quarantine
    mode: append
    transforms: [ { select: [id, _reason, _batch_id] } ]
  price_problems:
    from: silver.prices__quarantine
    transforms: [ { aggregate: { metrics: { n: "count(*)" } } } ]
`)

describe("a quarantine table as an input", () => {
  it.effect("is read after its owner, incrementally when its owner appends, and skipped when its owner is", () =>
    inProject({ "data/orders/1.csv": "id,amount\n1,5\n2,x\n3,-1\n", "data/prices.csv": "sku,price\na,1\nb,?\n" }, (project) =>
      Effect.gen(function* () {
        const first = yield* runPlan(project, plan)
        assert.strictEqual(first.run.status, "succeeded", JSON.stringify(first.tables.map((t) => [t.table, t.status, t.error])))
        for (const t of first.tables) assertBalanced(t)
        assert.deepStrictEqual(yield* query("SELECT _reason, n::INTEGER AS n FROM gold.order_problems ORDER BY 1"), [
          { _reason: "cast(amount)", n: 1 },
          { _reason: "positive", n: 1 }
        ])
        assert.deepStrictEqual(yield* query("SELECT n::INTEGER AS n FROM gold.price_problems"), [{ n: 1 }])
        assert.strictEqual(succeeded(first, "gold.problem_log").rows_out, 2)

        // New orders: the owner appends to its quarantine, the log reads only the new batch.
        project.write("data/orders/2.csv", "id,amount\n4,0\n5,7\n")
        const second = yield* runPlan(project, plan)
        assert.deepStrictEqual(statuses(second), {
          "bronze.orders": "succeeded",
          "bronze.prices": "unchanged",
          "silver.orders": "succeeded",
          "silver.prices": "unchanged",
          "gold.order_problems": "succeeded",
          "gold.problem_log": "succeeded",
          "gold.price_problems": "unchanged"
        })
        assert.strictEqual(succeeded(second, "gold.problem_log").rows_in, 1)
        assert.deepStrictEqual(yield* query("SELECT id, _reason FROM gold.problem_log ORDER BY id"), [
          { id: "2", _reason: "cast(amount)" },
          { id: "3", _reason: "positive" },
          { id: "4", _reason: "positive" }
        ])
        assert.deepStrictEqual(yield* query("SELECT _reason, n::INTEGER AS n FROM gold.order_problems ORDER BY 1"), [
          { _reason: "cast(amount)", n: 1 },
          { _reason: "positive", n: 2 }
        ])

        // A full refresh gives the same tables.
        const refreshed = yield* runPlan(project, plan, [], { fullRefresh: true })
        assert.strictEqual(refreshed.run.status, "succeeded")
        assert.deepStrictEqual(yield* query("SELECT id, _reason FROM gold.problem_log ORDER BY id"), [
          { id: "2", _reason: "cast(amount)" },
          { id: "3", _reason: "positive" },
          { id: "4", _reason: "positive" }
        ])
      })
    )
  )
})
