/** selectTables: --select forms over a small DAG. */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { type Plan, buildPlan } from "../../src/plan/Plan.ts"
import { selectTables } from "../../src/plan/select.ts"
import { parsed } from "../spec/positions.ts"

//   bronze.orders ---> silver.orders ----> gold.revenue ---> gold.top
//   bronze.customers -> silver.customers -^
//                                        \-> gold.counts
const text = `version: 1
pipeline: shop
sources:
  o: { format: csv, path: data/o.csv }
  c: { format: csv, path: data/c.csv }
bronze:
  orders: { from: o }
  customers: { from: c }
silver:
  orders: { from: bronze.orders }
  customers: { from: bronze.customers }
gold:
  revenue:
    from: silver.orders
    transforms:
      - join: { to: silver.customers, on: [customer_id] }
  top:
    sql: select * from {{ gold.revenue }} order by 1 limit 10
  counts:
    sql: select count(*) as n from {{ silver.customers }}
`

const plan: Plan = (() => {
  const result = buildPlan([parsed("pipelines/shop.yaml", text)])
  if (Result.isFailure(result)) throw new Error(result.failure.message)
  return result.success
})()

const select = (...selectors: ReadonlyArray<string>): ReadonlyArray<string> => {
  const result = selectTables(plan, selectors)
  if (Result.isFailure(result)) assert.fail(result.failure.message)
  return [...result.success].toSorted()
}

const failure = (...selectors: ReadonlyArray<string>) => {
  const result = selectTables(plan, selectors)
  if (Result.isSuccess(result)) assert.fail(`expected a SelectionError, selected ${[...result.success].join(", ")}`)
  assert.strictEqual(result.failure._tag, "SelectionError")
  return result.failure
}

describe("selectTables", () => {
  it("selects every table when there is no selector", () => {
    assert.deepStrictEqual(select(), [...plan.order].toSorted())
    assert.strictEqual(select().length, 7)
  })

  it("selects one table by layer.table", () => {
    assert.deepStrictEqual(select("silver.orders"), ["silver.orders"])
  })

  it("+table adds everything upstream, through from, join and sql", () => {
    assert.deepStrictEqual(select("+gold.revenue"), ["bronze.customers", "bronze.orders", "gold.revenue", "silver.customers", "silver.orders"])
    assert.deepStrictEqual(select("+gold.counts"), ["bronze.customers", "gold.counts", "silver.customers"])
  })

  it("table+ adds everything downstream, transitively", () => {
    assert.deepStrictEqual(select("silver.orders+"), ["gold.revenue", "gold.top", "silver.orders"])
    assert.deepStrictEqual(select("gold.top+"), ["gold.top"])
  })

  it("+table+ adds both directions", () => {
    assert.deepStrictEqual(select("+silver.customers+"), ["bronze.customers", "gold.counts", "gold.revenue", "gold.top", "silver.customers"])
  })

  it("layer:name selects a whole layer", () => {
    assert.deepStrictEqual(select("layer:silver"), ["silver.customers", "silver.orders"])
    assert.deepStrictEqual(select("layer:gold"), ["gold.counts", "gold.revenue", "gold.top"])
  })

  it("unions comma-separated selectors and repeated selectors, ignoring spaces", () => {
    assert.deepStrictEqual(select("silver.orders, gold.top"), ["gold.top", "silver.orders"])
    assert.deepStrictEqual(select("silver.orders", "layer:bronze"), ["bronze.customers", "bronze.orders", "silver.orders"])
    assert.deepStrictEqual(select("gold.counts,+gold.counts"), ["bronze.customers", "gold.counts", "silver.customers"])
  })

  it("refuses an unknown table with a suggestion", () => {
    const error = failure("silver.ordrs")
    assert.strictEqual(error.selector, "silver.ordrs")
    assert.include(error.reason, 'unknown table "silver.ordrs"')
    assert.include(error.message, "did you mean silver.orders?")
    assert.include(failure("+gold.revenu").reason, "did you mean gold.revenue?")
    assert.include(failure("silver.ordrs+").reason, "did you mean silver.orders?")
  })

  it("refuses a whole selection when one of its parts is unknown", () => {
    assert.strictEqual(failure("silver.orders,gold.nope").selector, "gold.nope")
  })

  it("refuses an unknown layer with a suggestion", () => {
    const error = failure("layer:silvr")
    assert.strictEqual(error.selector, "layer:silvr")
    assert.include(error.reason, '"silvr"')
    assert.include(error.reason, "did you mean silver?")
  })
})
