/**
 * Seeing what apply would run: `plan --diff` names each change to a table's definition since it was
 * last built, as written; `compile` prints the SQL each table runs, for DuckDB or Spark.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { cli, makeProject } from "../support/project.ts"

const pipeline = `version: 1
pipeline: shop
sources:
  orders: { format: csv, path: data/orders.csv }
bronze:
  orders: { from: orders }
silver:
  orders:
    from: bronze.orders
    transforms:
      - cast: { id: integer, amount: integer }
      - filter: "amount > 0"
    expect:
      - { not_null: [id], on_fail: quarantine }
gold:
  total:
    from: silver.orders
    transforms:
      - aggregate: { by: [], metrics: { total: sum(amount) } }
`

describe("plan --diff and compile", () => {
  const project = makeProject({ "pipelines/shop.yaml": pipeline, "data/orders.csv": "id,amount\n1,5\n2,7\n" })
  afterAll(() => project.remove())

  it("plan --diff names what changed in a definition, path by path, as written", { timeout: 120_000 }, () => {
    assert.strictEqual(cli(project.dir, ["apply"]).code, 0)
    const file = join(project.dir, "pipelines", "shop.yaml")
    writeFileSync(
      file,
      readFileSync(file, "utf8")
        .replace(`- filter: "amount > 0"`, `- filter: "amount >= 0"`)
        .replace(`- { not_null: [id], on_fail: quarantine }`, `- { not_null: [id], on_fail: drop }\n      - { unique: [id] }`)
    )
    const planned = cli(project.dir, ["plan", "--diff"])
    assert.strictEqual(planned.code, 0, planned.stderr)
    assert.match(planned.stdout, /rebuild +silver\.orders +replace +spec changed: expect, transforms\n/)
    assert.include(planned.stdout, `~ transforms[1].filter: "amount > 0" -> "amount >= 0"`)
    assert.include(planned.stdout, `~ expect[0].on_fail: "quarantine" -> "drop"`)
    assert.include(planned.stdout, `+ expect[1]: {"unique":["id"]}`)
    const json = JSON.parse(cli(project.dir, ["plan", "--json"]).stdout) as { tables: Array<{ table: string; changes: Array<string> }> }
    assert.strictEqual(json.tables.find((t) => t.table === "silver.orders")?.changes.length, 3)
    assert.deepStrictEqual(json.tables.find((t) => t.table === "gold.total")?.changes, [])
    // Without --diff, the plan reads as before.
    assert.notInclude(cli(project.dir, ["plan"]).stdout, "amount >= 0")
  })

  it("compile prints each table's SQL, for DuckDB or Spark, without a warehouse", { timeout: 60_000 }, () => {
    const fresh = makeProject({ "pipelines/shop.yaml": pipeline })
    try {
      const duck = cli(fresh.dir, ["compile", "silver.orders"])
      assert.strictEqual(duck.code, 0, duck.stderr)
      assert.match(duck.stdout, /^-- silver\.orders \(replace\), declared at pipelines\/shop\.yaml:8:3, duckdb SQL\n/)
      assert.match(duck.stdout, /-- build: every row[^\n]*\nCREATE OR REPLACE TEMP TABLE "__stage_silver_orders" AS WITH step_0 AS \(SELECT \*[^\n]* FROM "bronze"\."orders"\)/)
      assert.include(duck.stdout, "-- the rows to quarantine")
      const sparkSql = cli(fresh.dir, ["compile", "gold.total", "--engine", "spark"])
      assert.strictEqual(sparkSql.code, 0, sparkSql.stderr)
      assert.include(sparkSql.stdout, "`main`.`silver`.`orders`")
      const all = cli(fresh.dir, ["compile"])
      assert.deepStrictEqual(
        [...all.stdout.matchAll(/^-- (\S+) \(/gm)].map((m) => m[1]),
        ["bronze.orders", "silver.orders", "gold.total"]
      )
      const unknown = cli(fresh.dir, ["compile", "gold.nope"])
      assert.strictEqual(unknown.code, 2)
      assert.match(unknown.stderr, /unknown table "gold\.nope"/)
      assert.isFalse(existsSync(join(fresh.dir, ".medallion")), "compile opened a warehouse")
    } finally {
      fresh.remove()
    }
  })
})
