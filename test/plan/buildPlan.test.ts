/** buildPlan: one DAG across files, references resolved with "did you mean", duplicates refused. */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { buildPlan, type Plan, sqlReferences } from "../../src/plan/Plan.ts"
import { assertProblem, locate, onlyProblem, parsed } from "../spec/positions.ts"

const file = "pipelines/shop.yaml"

const head = `version: 1
pipeline: shop
sources:
  orders_raw: { format: csv, path: data/orders.csv }
  customers_raw: { format: json, path: data/customers.json }
bronze:
  orders: { from: orders_raw }
  customers: { from: customers_raw }
`

const planOk = (...files: ReadonlyArray<readonly [string, string]>): Plan => {
  const result = buildPlan(files.map(([name, text]) => parsed(name, text)))
  if (Result.isFailure(result)) assert.fail(result.failure.message)
  return result.success
}

const planOf = (text: string, name = file) => buildPlan([parsed(name, text)])

/** Every node comes after all the nodes it depends on, and every node is there once. */
const assertTopological = (plan: Plan) => {
  assert.strictEqual(new Set(plan.order).size, plan.nodes.size)
  assert.sameMembers([...plan.order], [...plan.nodes.keys()])
  for (const [id, node] of plan.nodes) {
    for (const dep of node.dependsOn) {
      assert.isBelow(plan.order.indexOf(dep), plan.order.indexOf(id), `${dep} must come before ${id}`)
    }
  }
}

describe("buildPlan: the DAG", () => {
  it("builds nodes with their dependencies from from:, join, relationships and sql", () => {
    const plan = planOk([
      file,
      `${head}silver:
  customers: { from: bronze.customers }
  orders:
    from: bronze.orders
    transforms:
      - join: { to: silver.customers, on: [customer_id] }
    expect:
      - relationships: { column: customer_id, to: silver.customers, field: id }
gold:
  revenue:
    sql: |
      select c.country, sum(o.amount) as revenue
      from {{ silver.orders }} o join {{silver.customers}} c using (customer_id)
      group by 1
`
    ])
    assert.deepStrictEqual([...plan.order], ["bronze.customers", "bronze.orders", "silver.customers", "silver.orders", "gold.revenue"])
    assertTopological(plan)
    const orders = plan.nodes.get("silver.orders")!
    assert.strictEqual(orders._tag, "Model")
    assert.sameMembers([...orders.dependsOn], ["bronze.orders", "silver.customers"])
    assert.strictEqual(orders._tag === "Model" ? orders.input : undefined, "bronze.orders")
    assert.strictEqual(orders.mode, "replace")
    const revenue = plan.nodes.get("gold.revenue")!
    assert.sameMembers([...revenue.dependsOn], ["silver.orders", "silver.customers"])
    assert.strictEqual(revenue._tag === "Model" ? revenue.input : "not a model", undefined)
    const bronze = plan.nodes.get("bronze.orders")!
    assert.strictEqual(bronze._tag, "Ingest")
    assert.deepStrictEqual(bronze.dependsOn, [])
    assert.strictEqual(bronze._tag === "Ingest" ? bronze.sourceName : "", "orders_raw")
    assert.strictEqual(bronze.file, file)
    assert.strictEqual(bronze.pipeline, "shop")
  })

  it("orders tables by dependency, not by layer, when silver reads gold", () => {
    const plan = planOk([
      file,
      `${head}silver:
  enriched:
    from: bronze.orders
    transforms:
      - join: { to: gold.rates, on: [currency] }
gold:
  rates: { from: bronze.customers }
`
    ])
    assertTopological(plan)
    assert.isBelow(plan.order.indexOf("gold.rates"), plan.order.indexOf("silver.enriched"))
  })

  it("joins tables of several files into one DAG", () => {
    const other = `version: 1
pipeline: reporting
gold:
  order_count:
    sql: select count(*) as n from {{ silver.orders }}
`
    const plan = planOk(["pipelines/reporting.yaml", other], [file, `${head}silver:\n  orders: { from: bronze.orders }\n`])
    assertTopological(plan)
    assert.deepStrictEqual(
      plan.pipelines.map((p) => p.pipeline),
      ["reporting", "shop"]
    )
    assert.strictEqual(plan.nodes.get("gold.order_count")!.file, "pipelines/reporting.yaml")
    assert.deepStrictEqual(plan.nodes.get("gold.order_count")!.dependsOn, ["silver.orders"])
  })

  it("finds {{ layer.table }} references in SQL text, with or without spaces", () => {
    assert.deepStrictEqual(sqlReferences("select * from {{ silver.orders }} join {{gold.x}} on true where y in (select 1 from {{  input  }})"), [
      "silver.orders",
      "gold.x",
      "input"
    ])
    assert.deepStrictEqual(sqlReferences("select '{ not a ref }' as x"), [])
  })
})

describe("buildPlan: unknown references", () => {
  it("reports an unknown from: at its value, with a suggestion", () => {
    const text = `${head}silver:\n  orders: { from: bronze.orders }\ngold:\n  revenue:\n    from: silver.ordrs\n`
    assertProblem(onlyProblem(planOf(text)), {
      file,
      at: locate(text, "silver.ordrs"),
      says: ["gold.revenue", 'unknown table "silver.ordrs"', "did you mean silver.orders?"]
    })
  })

  it("reports an unknown table in sql text at the sql, with a suggestion", () => {
    const text = `${head}silver:\n  orders: { from: bronze.orders }\ngold:\n  revenue:\n    sql: select * from {{ silver.ordrs }}\n`
    assertProblem(onlyProblem(planOf(text)), {
      file,
      at: locate(text, "select * from"),
      says: ["gold.revenue", 'unknown table "silver.ordrs"', "did you mean silver.orders?"]
    })
  })

  it("reports an unknown table in a block sql on the sql's line, with a suggestion", () => {
    const text = `${head}silver:\n  orders: { from: bronze.orders }\ngold:\n  revenue:\n    sql: |\n      select *\n      from {{ bronz.orders }}\n`
    const problem = onlyProblem(planOf(text))
    assert.oneOf(problem.line, [locate(text, "sql: |").line, locate(text, "{{ bronz").line])
    assert.include(problem.message, 'unknown table "bronz.orders"')
    assert.include(problem.message, "did you mean bronze.orders?")
  })

  it("reports an unknown join target on the join's line", () => {
    const text = `${head}silver:
  orders:
    from: bronze.orders
    transforms:
      - join: { to: silver.custmers, on: [customer_id] }
  customers: { from: bronze.customers }
`
    const problem = onlyProblem(planOf(text))
    assert.strictEqual(problem.line, locate(text, "silver.custmers").line)
    assert.isAtLeast(problem.column, locate(text, "join").column)
    assert.isAtMost(problem.column, locate(text, "silver.custmers").column)
    assert.include(problem.message, 'silver.orders: unknown table "silver.custmers"')
    assert.include(problem.message, "did you mean silver.customers?")
  })

  it("reports an unknown relationships target at its value", () => {
    const text = `${head}silver:
  orders:
    from: bronze.orders
    expect:
      - relationships: { column: customer_id, to: silver.customer, field: id }
  customers: { from: bronze.customers }
`
    assertProblem(onlyProblem(planOf(text)), {
      file,
      at: locate(text, "silver.customer,"),
      says: ['unknown table "silver.customer"', "did you mean silver.customers?"]
    })
  })

  it("reports an unknown table in a sql step", () => {
    const text = `${head}silver:
  orders:
    from: bronze.orders
    transforms:
      - sql: select * from {{ input }} where id in (select id from {{ bronze.custmers }})
`
    const problem = onlyProblem(planOf(text))
    assert.strictEqual(problem.line, locate(text, "bronze.custmers").line)
    assert.include(problem.message, 'unknown table "bronze.custmers"')
    assert.include(problem.message, "did you mean bronze.customers?")
  })

  it("reports every unknown reference of a file at once", () => {
    const text = `${head}silver:\n  a: { from: bronze.nope }\n  b: { from: silver.nothing_like_it }\n`
    const result = planOf(text)
    assert.isTrue(Result.isFailure(result))
    const problems = Result.isFailure(result) ? result.failure.problems : []
    assert.deepStrictEqual(
      problems.map((p) => p.line),
      [locate(text, "bronze.nope").line, locate(text, "silver.nothing").line]
    )
    assert.notInclude(problems[1]!.message, "did you mean")
  })

  it("reports a bronze table that reads an unknown source, with a suggestion", () => {
    const text = head.replace("orders: { from: orders_raw }", "orders: { from: order_raw }")
    assertProblem(onlyProblem(planOf(text)), {
      file,
      at: locate(text, "order_raw }"),
      says: ["bronze.orders", 'unknown source "order_raw"', "did you mean orders_raw?"]
    })
  })

  it("reports a bronze table that reads a source of another file", () => {
    const other = `version: 1\npipeline: other\nbronze:\n  orders2: { from: orders_raw }\n`
    const result = buildPlan([parsed(file, head), parsed("pipelines/other.yaml", other)])
    assertProblem(onlyProblem(result), {
      file: "pipelines/other.yaml",
      at: locate(other, "orders_raw"),
      says: ["bronze.orders2", 'unknown source "orders_raw"']
    })
  })
})

describe("buildPlan: duplicates", () => {
  it("reports a table defined in two files, at the second definition, naming the first", () => {
    const second = `version: 1
pipeline: other
silver:
  orders: { from: bronze.orders }
`
    const result = buildPlan([parsed(file, `${head}silver:\n  orders: { from: bronze.orders }\n`), parsed("pipelines/other.yaml", second)])
    assertProblem(onlyProblem(result), {
      file: "pipelines/other.yaml",
      at: locate(second, "orders:"),
      says: ["silver.orders", "already defined", "shop", file]
    })
  })

  it("reports a pipeline name used by two files", () => {
    const second = `version: 1\npipeline: shop\ngold:\n  x: { sql: select 1 }\n`
    const result = buildPlan([parsed(file, head), parsed("pipelines/copy.yaml", second)])
    assertProblem(onlyProblem(result), {
      file: "pipelines/copy.yaml",
      at: locate(second, "shop"),
      says: ['pipeline "shop"', file, "unique"]
    })
  })
})
