/** Behaviours that were once wrong: each case failed before its fix. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { planOf, runPlan } from "../support/project.ts"
import { countOf, inProject, query, succeeded, tableOf } from "./harness.ts"

const header = `
version: 1
pipeline: edge
sources: { o: { format: csv, path: data/o.csv } }
bronze: { o: { from: o } }
`

describe("edge cases", () => {
  it.effect("a failed cast names the raw values that did not cast", () =>
    inProject({ "data/o.csv": "id,amount\n1,5\n2,abc\n3,x1\n" }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(project, planOf(`${header}silver: { t: { from: bronze.o, transforms: [ { cast: { amount: int } } ] } }`))
        const t = tableOf(report, "silver.t")
        assert.strictEqual(t.status, "failed")
        assert.include(t.error, `cannot cast column amount for 2 row(s), e.g. "abc", "x1"`)
      })
    )
  )

  it.effect("a view whose cast fails is not published, and the previous view stays", () =>
    inProject({ "data/o.csv": "id,amount\n1,5\n" }, (project) =>
      Effect.gen(function* () {
        const plan = planOf(`${header}silver: { v: { from: bronze.o, mode: view, transforms: [ { cast: { amount: int } } ] } }`)
        succeeded(yield* runPlan(project, plan), "silver.v")
        project.write("data/o.csv", "id,amount\n1,5\n2,abc\n")
        const t = tableOf(yield* runPlan(project, plan), "silver.v")
        assert.strictEqual(t.status, "failed")
        assert.include(t.error, `e.g. "abc"`)
        // The view still reads (bronze was replaced, the view casts strictly): only a valid view is ever published.
        assert.strictEqual(yield* countOf("bronze.o"), 2)
      })
    )
  )

  it.effect("accepted_values compares numbers by value, and fill_nulls fills text columns with numbers", () =>
    inProject({ "data/o.csv": "id,size\n1,1.5\n2,2.0\n3,7\n4,\n" }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          planOf(`${header}
silver:
  t:
    from: bronze.o
    transforms: [ { fill_nulls: { size: 0 } }, { cast: { size: "decimal(4,1)", id: int } } ]
    expect: [ { accepted_values: { column: size, values: [0, 1.5, 2.0] }, on_fail: drop } ]
`)
        )
        const t = succeeded(report, "silver.t")
        assert.strictEqual(t.rows_out, 3)
        assert.deepStrictEqual(t.dropped_by_reason, { "expectation:accepted_values(size)": 1 })
        assert.deepStrictEqual(yield* query("SELECT id, size::VARCHAR AS size FROM silver.t ORDER BY id"), [
          { id: 1, size: "1.5" },
          { id: 2, size: "2.0" },
          { id: 4, size: "0.0" }
        ])
      })
    )
  )

  it.effect("a failing export publishes nothing: the old table stays", () =>
    inProject({ "data/o.csv": "id\n1\n2\n", blocker: "a file where a folder should be" }, (project) =>
      Effect.gen(function* () {
        succeeded(yield* runPlan(project, planOf(`${header}silver: { t: { from: bronze.o } }`)), "silver.t")
        project.write("data/o.csv", "id\n9\n")
        const report = yield* runPlan(project, planOf(`${header}silver: { t: { from: bronze.o, targets: [ { csv: blocker/t.csv } ] } }`))
        assert.strictEqual(tableOf(report, "silver.t").status, "failed")
        assert.deepStrictEqual(yield* query("SELECT id FROM silver.t ORDER BY id"), [{ id: "1" }, { id: "2" }])
        assert.strictEqual((yield* query("SELECT count(*)::INT AS n FROM information_schema.tables WHERE table_name LIKE '%__next'"))[0]!["n"], 0)
      })
    )
  )

  it.effect("an incremental source ingests each file once, so a silver append never doubles", () =>
    inProject({ "data/o.csv": "id\n1\n2\n" }, (project) =>
      Effect.gen(function* () {
        const plan = planOf(`
version: 1
pipeline: inc
sources: { o: { format: csv, path: "data/*.csv", incremental: true } }
bronze: { o: { from: o } }
silver: { t: { from: bronze.o, mode: append } }
`)
        assert.strictEqual(plan.nodes.get("bronze.o")!.mode, "append")
        for (let i = 0; i < 3; i++) yield* runPlan(project, plan)
        assert.strictEqual(yield* countOf("silver.t"), 2)
        project.write("data/p.csv", "id\n3\n")
        yield* runPlan(project, plan)
        assert.strictEqual(yield* countOf("silver.t"), 3)
      })
    )
  )

  it.effect("a full refresh of an appended input rebuilds the append that reads it, instead of doubling it", () =>
    inProject({ "data/a.csv": "id\n1\n2\n" }, (project) =>
      Effect.gen(function* () {
        const plan = planOf(`
version: 1
pipeline: refresh
sources: { events: { format: csv, path: "data/*.csv", incremental: true } }
bronze: { events: { from: events } }
silver: { events: { from: bronze.events, mode: append } }
`)
        yield* runPlan(project, plan)
        yield* runPlan(project, plan, ["bronze.events"], { fullRefresh: true })
        const report = yield* runPlan(project, plan)
        assert.include(tableOf(report, "silver.events").reason, "rebuild: bronze.events was rebuilt, so its batches are new")
        assert.strictEqual(yield* countOf("silver.events"), 2)
      })
    )
  )

  it.live("a table over its timeout is interrupted and fails with a message saying what to do", () =>
    inProject({}, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          planOf(`
version: 1
pipeline: slow
timeout: 300ms
gold:
  big: { sql: "select sum(a.range * b.range) as s from range(100000) a, range(1000000) b" }
  quick: { sql: "select 1 as n", timeout: 1m }
`)
        )
        const big = tableOf(report, "gold.big")
        assert.strictEqual(big.status, "failed")
        assert.include(big.error, "gold.big did not finish within 300ms; raise timeout:")
        assert.isBelow(big.duration_seconds, 5)
        assert.strictEqual(tableOf(report, "gold.quick").status, "succeeded")
      })
    )
  )
})
