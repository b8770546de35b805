/**
 * Every expectation kind with every on_fail: what is published, what is quarantined, what is
 * dropped and under which reason, and the passed/failed counts in the table's record.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { ExecutorError } from "../../src/executor/Executor.ts"
import type { Plan } from "../../src/plan/Plan.ts"
import type { TableError } from "../../src/runtime/errors.ts"
import { runTable } from "../../src/runtime/runTable.ts"
import { planOf, runPlan, type TestProject } from "../support/project.ts"
import { assertBalanced, column, countsOf, expectationsOf, inProject, objectsIn, query, succeeded, tableOf } from "./harness.ts"

const customers = "customer_id,name\n1,Ann\n2,Ben\n"
// Row by row: 1 and 2 are clean; 3 has no customer; 4 an unknown status; 5a an unknown customer;
// 5a and 5b share order_id 5; 5b has a negative amount.
const orders = ["order_id,customer_id,status,amount", "1,1,paid,10", "2,2,shipped,20", "3,,paid,5", "4,1,weird,7", "5,9,paid,8", "5,2,paid,-1", ""].join("\n")
const cleanOrders = "order_id,customer_id,status,amount\n1,1,paid,10\n2,2,shipped,20\n"

/** A silver `orders` table per on_fail, all with the same five expectations. */
const pipeline = (onFails: ReadonlyArray<string>) =>
  planOf(`
version: 1
pipeline: quality
sources:
  customers: { format: csv, path: data/customers.csv }
  orders: { format: csv, path: data/orders.csv }
bronze: { customers: { from: customers }, orders: { from: orders } }
silver:
  customers:
    from: bronze.customers
    transforms: [ { cast: { customer_id: integer } } ]
${onFails
  .map(
    (onFail) => `
  orders_${onFail}:
    from: bronze.orders
    transforms:
      - cast: { order_id: integer, customer_id: integer, amount: integer }
      - select: [order_id, customer_id, status, amount]
    expect:
      - { name: positive_amount, check: amount >= 0, on_fail: ${onFail} }
      - { not_null: [customer_id], on_fail: ${onFail} }
      - { unique: [order_id], on_fail: ${onFail} }
      - { accepted_values: { column: status, values: [paid, shipped] }, on_fail: ${onFail} }
      - { relationships: { column: customer_id, to: silver.customers, field: customer_id }, on_fail: ${onFail} }
`
  )
  .join("")}
`)

const names = {
  check: "positive_amount",
  notNull: "not_null(customer_id)",
  unique: "unique(order_id)",
  accepted: "accepted_values(status)",
  relationships: "relationships(customer_id -> silver.customers.customer_id)"
}

/**
 * Every expectation fails for exactly the rows described above. `unique` counts only rows that
 * would be published: with drop or quarantine, 5a and 5b are set aside by other rules, so order 5
 * no longer repeats.
 */
const expectedResults = (onFail: string): Array<readonly [string, string, number, number]> => [
  [names.check, onFail, 5, 1],
  [names.notNull, onFail, 5, 1],
  onFail === "drop" || onFail === "quarantine" ? [names.unique, onFail, 6, 0] : [names.unique, onFail, 4, 2],
  [names.accepted, onFail, 5, 1],
  [names.relationships, onFail, 5, 1]
]

const orderIds = (table: string) => Effect.map(query(`SELECT order_id, amount FROM ${table} ORDER BY order_id, amount`), (r) => r.map((x) => `${x["order_id"]}/${x["amount"]}`))

/** Runs one table alone, for its typed error. */
const failureOf = (project: TestProject, plan: Plan, id: string) =>
  runTable(
    { node: plan.nodes.get(id as `silver.${string}`)!, full: true, files: [], checksummed: Effect.succeed([]), onPublish: () => Effect.void },
    { batchId: "direct", startedAt: new Date(0).toISOString(), projectDir: project.dir }
  ).pipe(
    Effect.flip,
    Effect.map((e: TableError | ExecutorError) => e)
  )

describe("expectations", () => {
  it.effect("warn keeps every row and records passed and failed counts", () =>
    inProject({ "data/customers.csv": customers, "data/orders.csv": orders }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(project, pipeline(["warn"]))
        const t = succeeded(report, "silver.orders_warn")
        assert.deepStrictEqual(countsOf(t), { rows_in: 6, rows_out: 6, quarantined: 0, dropped: 0, duplicates: 0, rejected: 0, dropped_by_reason: {} })
        assertBalanced(t)
        assert.deepStrictEqual(expectationsOf(t), expectedResults("warn"))
        assert.deepStrictEqual(
          t.expectations.map((e) => e.kind),
          ["check", "not_null", "unique", "accepted_values", "relationships"]
        )
        assert.deepStrictEqual(yield* orderIds("silver.orders_warn"), ["1/10", "2/20", "3/5", "4/7", "5/-1", "5/8"])
        assert.notProperty(yield* objectsIn("silver"), "orders_warn__quarantine")
      })
    )
  )

  it.effect("drop removes failing rows and counts them under expectation:<name>", () =>
    inProject({ "data/customers.csv": customers, "data/orders.csv": orders }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(project, pipeline(["drop"]))
        const t = succeeded(report, "silver.orders_drop")
        // A row failing several drop expectations is counted once, under the first in order.
        assert.deepStrictEqual(countsOf(t), {
          rows_in: 6,
          rows_out: 2,
          quarantined: 0,
          dropped: 4,
          duplicates: 0,
          rejected: 0,
          dropped_by_reason: {
            [`expectation:${names.check}`]: 1,
            [`expectation:${names.notNull}`]: 1,
            [`expectation:${names.accepted}`]: 1,
            [`expectation:${names.relationships}`]: 1
          }
        })
        assertBalanced(t)
        assert.deepStrictEqual(expectationsOf(t), expectedResults("drop"))
        assert.deepStrictEqual(yield* orderIds("silver.orders_drop"), ["1/10", "2/20"])
        assert.notProperty(yield* objectsIn("silver"), "orders_drop__quarantine")
      })
    )
  )

  it.effect("quarantine moves failing rows to __quarantine with the names of the expectations they failed", () =>
    inProject({ "data/customers.csv": customers, "data/orders.csv": orders }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(project, pipeline(["quarantine"]))
        const t = succeeded(report, "silver.orders_quarantine")
        assert.deepStrictEqual(countsOf(t), { rows_in: 6, rows_out: 2, quarantined: 4, dropped: 0, duplicates: 0, rejected: 0, dropped_by_reason: {} })
        assertBalanced(t)
        assert.deepStrictEqual(expectationsOf(t), expectedResults("quarantine"))
        assert.deepStrictEqual(yield* orderIds("silver.orders_quarantine"), ["1/10", "2/20"])
        const quarantined = yield* query("SELECT order_id, amount, _expectations, _quarantine_batch_id FROM silver.orders_quarantine__quarantine ORDER BY order_id, amount")
        assert.deepStrictEqual(
          quarantined.map((r) => [r["order_id"], r["amount"], r["_expectations"]]),
          [
            [3, 5, [names.notNull]],
            [4, 7, [names.accepted]],
            [5, -1, [names.check]],
            [5, 8, [names.relationships]]
          ]
        )
        assert.deepStrictEqual([...new Set(quarantined.map((r) => r["_quarantine_batch_id"]))], [report.run.batch_id])
      })
    )
  )

  it.effect("warn, drop and quarantine together: quarantine wins over drop, warn only counts", () =>
    inProject({ "data/customers.csv": customers, "data/orders.csv": orders }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          planOf(`
version: 1
pipeline: mixed
sources:
  customers: { format: csv, path: data/customers.csv }
  orders: { format: csv, path: data/orders.csv }
bronze: { customers: { from: customers }, orders: { from: orders } }
silver:
  orders:
    from: bronze.orders
    transforms:
      - cast: { amount: integer }
    expect:
      - { unique: [order_id], on_fail: drop }
      - { check: amount >= 0, name: positive, on_fail: quarantine }
      - { accepted_values: { column: status, values: [paid, shipped] }, on_fail: warn }
      - { not_null: [customer_id], on_fail: drop }
`)
        )
        const t = succeeded(report, "silver.orders")
        // 5b fails positive: quarantined. 5a is then the only order 5 that would be published, so
        // unique holds; 4 only warns and stays.
        assert.deepStrictEqual(countsOf(t), {
          rows_in: 6,
          rows_out: 4,
          quarantined: 1,
          dropped: 1,
          duplicates: 0,
          rejected: 0,
          dropped_by_reason: { "expectation:not_null(customer_id)": 1 }
        })
        assertBalanced(t)
        assert.deepStrictEqual(expectationsOf(t), [
          [names.unique, "drop", 6, 0],
          ["positive", "quarantine", 5, 1],
          [names.accepted, "warn", 5, 1],
          [names.notNull, "drop", 5, 1]
        ])
        assert.deepStrictEqual(yield* column("SELECT order_id FROM silver.orders ORDER BY order_id", "order_id"), ["1", "2", "4", "5"])
        assert.deepStrictEqual(yield* query("SELECT order_id, _expectations FROM silver.orders__quarantine"), [{ order_id: "5", _expectations: ["positive"] }])
      })
    )
  )

  it.effect("fail stops the table with ExpectationFailed, writes nothing and leaves the previous table untouched", () =>
    inProject({ "data/customers.csv": customers, "data/orders.csv": cleanOrders }, (project) =>
      Effect.gen(function* () {
        const single = (kind: string, rule: string) => `
  ${kind}:
    from: bronze.orders
    transforms: [ { cast: { order_id: integer, customer_id: integer, amount: integer } } ]
    expect: [ { ${rule}, on_fail: fail } ]`
        const plan = planOf(`
version: 1
pipeline: strict
sources:
  customers: { format: csv, path: data/customers.csv }
  orders: { format: csv, path: data/orders.csv }
bronze: { customers: { from: customers }, orders: { from: orders } }
silver:
  customers:
    from: bronze.customers
    transforms: [ { cast: { customer_id: integer } } ]
${single("by_check", "name: positive_amount, check: amount >= 0")}
${single("by_not_null", "not_null: [customer_id]")}
${single("by_unique", "unique: [order_id]")}
${single("by_accepted", "accepted_values: { column: status, values: [paid, shipped] }")}
${single("by_relationships", "relationships: { column: customer_id, to: silver.customers, field: customer_id }")}
`)
        const tables = {
          by_check: [names.check, 1],
          by_not_null: [names.notNull, 1],
          by_unique: [names.unique, 2],
          by_accepted: [names.accepted, 1],
          by_relationships: [names.relationships, 1]
        } as const
        const first = yield* runPlan(project, plan)
        assert.strictEqual(first.run.status, "succeeded")
        for (const name of Object.keys(tables)) {
          assert.deepStrictEqual(yield* orderIds(`silver.${name}`), ["1/10", "2/20"])
        }

        project.write("data/orders.csv", orders)
        const second = yield* runPlan(project, plan)
        assert.strictEqual(second.run.status, "failed")
        for (const [name, [expectation, failed]] of Object.entries(tables)) {
          const t = tableOf(second, `silver.${name}`)
          assert.strictEqual(t.status, "failed", name)
          assert.include(t.error, `silver.${name}: expectation ${expectation} failed for ${failed} row(s)`)
          assert.deepStrictEqual([t.rows_out, t.quarantined], [0, 0])
          // The previous table is still there with its previous rows.
          assert.deepStrictEqual(yield* orderIds(`silver.${name}`), ["1/10", "2/20"], name)

          const error = yield* failureOf(project, plan, `silver.${name}`)
          assert.strictEqual(error._tag, "ExpectationFailed")
          if (error._tag === "ExpectationFailed") {
            assert.deepStrictEqual([error.table, error.expectation, error.failed], [`silver.${name}`, expectation, failed])
          }
        }
        const objects = yield* objectsIn("silver")
        assert.deepStrictEqual(
          Object.keys(objects).filter((n) => n.includes("__")),
          []
        )
      })
    )
  )
  it.effect("_reason is the first reason in the order the table applies them: casts step by step, then expectations as declared", () =>
    inProject(
      {
        // a: amount does not cast (its NULL then fails both checks too); b: qty does not cast, and
        // amount fails both checks; c: neither casts; d: fails both checks (big is declared first);
        // e: fails only positive.
        "data/orders.csv": "id,amount,qty\na,x,1\nb,-500,y\nc,x,y\nd,-500,1\ne,-1,1\nf,1,1\n"
      },
      (project) =>
        Effect.gen(function* () {
          const report = yield* runPlan(
            project,
            planOf(`
version: 1
pipeline: reasons
sources: { orders: { format: csv, path: data/orders.csv } }
bronze: { orders: { from: orders } }
silver:
  orders:
    from: bronze.orders
    transforms:
      - cast: { columns: { qty: integer }, on_error: quarantine }
      - uppercase: [id]
      - cast: { columns: { amount: integer }, on_error: quarantine }
    expect:
      - { check: "abs(amount) < 100", name: big, on_fail: quarantine }
      - { check: amount >= 0, name: positive, on_fail: quarantine }
`)
          )
          assertBalanced(succeeded(report, "silver.orders"))
          assert.deepStrictEqual(yield* query("SELECT id, _reason, list_sort(_expectations) AS all FROM silver.orders__quarantine ORDER BY id"), [
            { id: "A", _reason: "cast(amount)", all: ["big", "cast(amount)", "positive"] },
            { id: "B", _reason: "cast(qty)", all: ["big", "cast(qty)", "positive"] },
            { id: "C", _reason: "cast(qty)", all: ["big", "cast(amount)", "cast(qty)", "positive"] },
            { id: "D", _reason: "big", all: ["big", "positive"] },
            { id: "E", _reason: "positive", all: ["positive"] }
          ])
          assert.deepStrictEqual(yield* query("SELECT id FROM silver.orders"), [{ id: "F" }])
        })
    )
  )
})
