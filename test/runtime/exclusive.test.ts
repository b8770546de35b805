/**
 * Large tables run alone on DuckDB: which tables count as large, and a run where every table is
 * large still completes at any concurrency.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { aroundStatements, Executor } from "../../src/executor/Executor.ts"
import type { PlanNode, TableId } from "../../src/plan/Plan.ts"
import { tablesToRunAlone } from "../../src/runtime/exclusive.ts"
import { apply } from "../../src/runtime/Runner.ts"
import { planOf } from "../support/project.ts"
import { inProject, succeeded } from "./harness.ts"

const node = (tag: PlanNode["_tag"], ...dependsOn: ReadonlyArray<string>) => ({ _tag: tag, dependsOn: dependsOn as ReadonlyArray<TableId> })
const id = (s: string) => s as TableId

describe("tablesToRunAlone", () => {
  const nodes = new Map([
    [id("bronze.orders"), node("Ingest")],
    [id("bronze.customers"), node("Ingest")],
    [id("silver.orders"), node("Model", "bronze.orders")],
    [id("silver.customers"), node("Model", "bronze.customers")],
    [id("gold.sales"), node("Model", "silver.orders", "silver.customers")],
    [id("gold.segments"), node("Model", "silver.customers")]
  ])
  const bytes: Record<string, number> = { "bronze.orders": 900, "bronze.customers": 60 }
  const all = [...nodes.keys()]

  it("a table reading more than the threshold of source files, directly or through its upstreams, runs alone", () => {
    assert.deepStrictEqual([...tablesToRunAlone(nodes, all, (t) => bytes[t] ?? 0, 500)], ["bronze.orders", "silver.orders", "gold.sales"])
  })

  it("counts each source once, also through a diamond, and sums several sources", () => {
    const diamond = new Map([...nodes, [id("gold.both"), node("Model", "gold.sales", "silver.orders", "silver.customers")]])
    assert.isTrue(tablesToRunAlone(diamond, [id("gold.both")], (t) => bytes[t] ?? 0, 959).has(id("gold.both")), "900 + 60 > 959")
    assert.isFalse(tablesToRunAlone(diamond, [id("gold.both")], (t) => bytes[t] ?? 0, 960).has(id("gold.both")), "each source once: 960")
  })

  it("only the tables asked about; none above a threshold nothing reaches", () => {
    assert.deepStrictEqual([...tablesToRunAlone(nodes, [id("gold.segments")], (t) => bytes[t] ?? 0, 500)], [])
    assert.strictEqual(tablesToRunAlone(nodes, all, (t) => bytes[t] ?? 0, 10_000).size, 0)
  })
})

/** Runs `plan` and reports the most table builds (CREATE ... TABLE statements) that were in flight at once. */
const mostBuildsAtOnce = <E, R>(run: Effect.Effect<unknown, E, R>) =>
  Effect.gen(function*() {
    const inner = yield* Executor
    let running = 0
    let most = 0
    const counting = aroundStatements(inner, (sql, statement) =>
      /^CREATE OR REPLACE (TEMP )?TABLE/.test(sql)
        ? Effect.acquireUseRelease(Effect.sync(() => most = Math.max(most, ++running)), () => statement, () => Effect.sync(() => running--))
        : statement)
    yield* run.pipe(Effect.provideService(Executor, counting))
    return most
  })

// Enough rows that two bronze reads started together overlap.
const manyOrders = `order_id,customer_id,amount\n${Array.from({ length: 20_000 }, (_, i) => `${i},${i % 2 + 1},${i % 100}`).join("\n")}\n`
const manyCustomers = `customer_id,name\n1,Ann\n2,Ben\n${Array.from({ length: 20_000 }, (_, i) => `${i + 3},c${i}`).join("\n")}\n`

describe("running large tables alone", () => {
  it.effect("tables above the threshold never build at the same time; below it they do; every run completes", () =>
    inProject({ "data/orders.csv": manyOrders, "data/customers.csv": manyCustomers }, (project) =>
      Effect.gen(function*() {
        const plan = planOf(`
version: 1
pipeline: alone
sources:
  orders: { format: csv, path: data/orders.csv }
  customers: { format: csv, path: data/customers.csv }
bronze:
  orders: { from: orders }
  customers: { from: customers }
silver:
  orders: { from: bronze.orders, transforms: [ { cast: { amount: integer } } ] }
  customers: { from: bronze.customers }
gold:
  totals:
    from: silver.orders
    transforms:
      - join: { to: silver.customers, on: [customer_id], how: inner, columns: [name] }
      - aggregate: { by: [name], metrics: { revenue: sum(amount) } }
`)
        const run = (runAloneAboveBytes: number) =>
          Effect.gen(function*() {
            const report = yield* apply(plan, {
              projectDir: project.dir, env: "test", selected: new Set(plan.order), concurrency: 4, fullRefresh: new Set(plan.order), runAloneAboveBytes
            })
            assert.strictEqual(report.run.status, "succeeded")
            assert.strictEqual(succeeded(report, "gold.totals").rows_out, 2)
          })
        assert.strictEqual(yield* mostBuildsAtOnce(run(0)), 1, "every table is above a threshold of 0 bytes")
        assert.isAtLeast(yield* mostBuildsAtOnce(run(Number.MAX_SAFE_INTEGER)), 2, "the two bronze tables start together")
      })))
})
