/**
 * The jaffle_shop port: gold.jaffle_customers and gold.jaffle_orders equal dbt's customers and
 * orders models, here written again by hand straight over the seed CSVs, row for row; plus facts
 * about the seed data checked by hand, and that the seeds are the unchanged upstream files.
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { engine, repoRoot, rows, runPlan } from "../support/project.ts"
import { assertAccounting, examplePlan, exampleProject, sqlPath } from "./examples.ts"

/** sha256 of the seed files of dbt-labs/jaffle_shop at b0b77aac70f490770a1e77c02bb0a2b8771d3203. */
const seeds = {
  "raw_customers.csv": "24579b4b26098d43265376f3c50be8b10faf8e8fd95f5508074f10f76a12671d",
  "raw_orders.csv": "ee6c68d1639ec2b23a4495ec12475e09b8ed4b61e23ab0411ea7ec76648356f7",
  "raw_payments.csv": "03fd407f3135f84456431a923f22fc185a2154079e210c20b690e3ab11687d11"
}

/** Both sides in the same column types, so that the comparison is about values. */
const customersShape = (from: string) => `
  SELECT customer_id::INTEGER AS customer_id, first_name, last_name, first_order::DATE AS first_order,
         most_recent_order::DATE AS most_recent_order, number_of_orders::INTEGER AS number_of_orders,
         customer_lifetime_value::DECIMAL(12, 2)::VARCHAR AS customer_lifetime_value
  FROM (${from}) ORDER BY customer_id`
const ordersShape = (from: string) => `
  SELECT order_id::INTEGER AS order_id, customer_id::INTEGER AS customer_id, order_date::DATE AS order_date, status,
         credit_card_amount::DECIMAL(12, 2)::VARCHAR AS credit_card_amount, coupon_amount::DECIMAL(12, 2)::VARCHAR AS coupon_amount,
         bank_transfer_amount::DECIMAL(12, 2)::VARCHAR AS bank_transfer_amount, gift_card_amount::DECIMAL(12, 2)::VARCHAR AS gift_card_amount,
         amount::DECIMAL(12, 2)::VARCHAR AS amount
  FROM (${from}) ORDER BY order_id`

describe("jaffle_shop example", () => {
  it("ships the seed files unchanged (raw_orders.csv with CRLF line endings)", () => {
    for (const [file, sha256] of Object.entries(seeds)) {
      const bytes = readFileSync(join(repoRoot, "data", "jaffle_shop", file))
      assert.strictEqual(createHash("sha256").update(bytes).digest("hex"), sha256, file)
    }
    const orders = readFileSync(join(repoRoot, "data", "jaffle_shop", "raw_orders.csv"), "latin1")
    assert.strictEqual(orders.split("\r\n").length - 1, 100)
  })

  it.effect("builds dbt's customers and orders models, row for row", () => {
    const project = exampleProject(["jaffle_shop.yaml"])
    const plan = examplePlan(project)
    const csv = (file: string) => `read_csv(${sqlPath(project, "data", "jaffle_shop", file)})`
    // dbt's logic, written independently: per customer aggregates over the raw seeds, amounts in cents.
    const expectedCustomers = `
      SELECT c.id AS customer_id, c.first_name, c.last_name,
             min(o.order_date) AS first_order,
             max(o.order_date) AS most_recent_order,
             nullif(count(o.id), 0) AS number_of_orders,
             (SELECT sum(p.amount) FROM ${csv("raw_payments.csv")} p JOIN ${csv("raw_orders.csv")} o2 ON p.order_id = o2.id
              WHERE o2.user_id = c.id) / 100 AS customer_lifetime_value
      FROM ${csv("raw_customers.csv")} c LEFT JOIN ${csv("raw_orders.csv")} o ON o.user_id = c.id
      GROUP BY c.id, c.first_name, c.last_name`
    const paid = (method: string) => `coalesce((SELECT sum(p.amount) FROM ${csv("raw_payments.csv")} p WHERE p.order_id = o.id AND p.payment_method = '${method}'), 0) / 100`
    const expectedOrders = `
      SELECT o.id AS order_id, o.user_id AS customer_id, o.order_date, o.status,
             ${paid("credit_card")} AS credit_card_amount, ${paid("coupon")} AS coupon_amount,
             ${paid("bank_transfer")} AS bank_transfer_amount, ${paid("gift_card")} AS gift_card_amount,
             (SELECT sum(p.amount) FROM ${csv("raw_payments.csv")} p WHERE p.order_id = o.id) / 100 AS amount
      FROM ${csv("raw_orders.csv")} o`
    return Effect.gen(function* () {
      const report = yield* runPlan(project, plan)
      assertAccounting(report)

      // The same columns, in dbt's order.
      const columns = (table: string) =>
        rows(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'gold' AND table_name = '${table}' ORDER BY ordinal_position`).pipe(
          Effect.map((r) => r.map((c) => String(c["column_name"])))
        )
      assert.deepStrictEqual(yield* columns("jaffle_customers"), [
        "customer_id",
        "first_name",
        "last_name",
        "first_order",
        "most_recent_order",
        "number_of_orders",
        "customer_lifetime_value"
      ])
      assert.deepStrictEqual(yield* columns("jaffle_orders"), [
        "order_id",
        "customer_id",
        "order_date",
        "status",
        "credit_card_amount",
        "coupon_amount",
        "bank_transfer_amount",
        "gift_card_amount",
        "amount"
      ])

      const customers = yield* rows(customersShape("SELECT * FROM gold.jaffle_customers"))
      assert.strictEqual(customers.length, 100)
      assert.deepStrictEqual(customers, yield* rows(customersShape(expectedCustomers)))
      const orders = yield* rows(ordersShape("SELECT * FROM gold.jaffle_orders"))
      assert.strictEqual(orders.length, 99)
      assert.deepStrictEqual(orders, yield* rows(ordersShape(expectedOrders)))

      // Facts about the seed data, checked by hand.
      assert.deepStrictEqual(
        yield* rows(`
        SELECT count(*)::INTEGER AS customers,
               count(first_order)::INTEGER AS with_orders,
               count(*) FILTER (WHERE first_order IS NULL AND number_of_orders IS NULL AND customer_lifetime_value IS NULL)::INTEGER AS without_orders,
               sum(number_of_orders)::INTEGER AS orders,
               sum(customer_lifetime_value)::VARCHAR AS lifetime_value
        FROM gold.jaffle_customers`),
        [{ customers: 100, with_orders: 62, without_orders: 38, orders: 99, lifetime_value: "1672.00" }]
      )
      assert.deepStrictEqual(
        yield* rows(
          "SELECT customer_id, first_name, last_name, number_of_orders::INTEGER AS n, customer_lifetime_value::VARCHAR AS ltv FROM gold.jaffle_customers ORDER BY customer_lifetime_value DESC NULLS LAST LIMIT 1"
        ),
        [{ customer_id: 51, first_name: "Howard", last_name: "R.", n: 3, ltv: "99.00" }]
      )
      assert.deepStrictEqual(
        yield* rows(`SELECT customer_id, first_order::VARCHAR AS first_order, most_recent_order::VARCHAR AS last_order, number_of_orders::INTEGER AS n
          FROM gold.jaffle_customers WHERE customer_id IN (1, 2) ORDER BY 1`),
        [
          { customer_id: 1, first_order: "2018-01-01", last_order: "2018-02-10", n: 2 },
          { customer_id: 2, first_order: "2018-01-11", last_order: "2018-01-11", n: 1 }
        ]
      )
      // Order 25 was paid three ways.
      assert.deepStrictEqual(
        yield* rows(`SELECT status, credit_card_amount::VARCHAR AS cc, coupon_amount::VARCHAR AS coupon, bank_transfer_amount::VARCHAR AS bank,
          gift_card_amount::VARCHAR AS gift, amount::VARCHAR AS amount FROM gold.jaffle_orders WHERE order_id = 25`),
        [{ status: "completed", cc: "22.00", coupon: "16.00", bank: "20.00", gift: "0.00", amount: "58.00" }]
      )
      assert.deepStrictEqual(yield* rows(`SELECT status, count(*)::INTEGER AS n FROM gold.jaffle_orders GROUP BY 1 ORDER BY 1`), [
        { status: "completed", n: 67 },
        { status: "placed", n: 13 },
        { status: "return_pending", n: 2 },
        { status: "returned", n: 4 },
        { status: "shipped", n: 13 }
      ])
      assert.strictEqual(
        (yield* rows("SELECT count(*)::INTEGER AS n FROM gold.jaffle_orders WHERE amount <> credit_card_amount + coupon_amount + bank_transfer_amount + gift_card_amount"))[0]?.[
          "n"
        ],
        0
      )
    }).pipe(Effect.provide(engine(project)), Effect.ensuring(Effect.sync(project.remove)))
  })
})
