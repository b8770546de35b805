/**
 * A mistake in what a person wrote (a column misspelled in a filter, an expectation or the input
 * query, a type that does not exist) fails its table once, at the part that holds it: the file,
 * line and column of that transform or expectation, its text as written, and the engine's reason
 * without the generated SQL or medallion's own columns, which `--verbose` adds.
 */
import { afterAll, assert, describe, it } from "vitest"
import { cli, makeProject } from "../support/project.ts"

const pipeline = `version: 1
pipeline: shop
sources:
  orders: { format: csv, path: data/orders.csv }
bronze:
  orders: { from: orders }
silver:
  typo_in_filter:
    from: bronze.orders
    transforms:
      - cast: { id: integer, amount: integer }
      - derive: { double: "amount * 2" }
      - filter: "amont > 3"
  typo_in_check:
    from: bronze.orders
    transforms:
      - cast: { id: integer, amount: integer }
    expect:
      - { not_null: [id] }
      - { check: "ammount >= 0", on_fail: quarantine }
  unknown_type:
    from: bronze.orders
    transforms:
      - cast: { id: integre }
gold:
  typo_in_sql:
    sql: "select idd from {{ bronze.orders }}"
`

describe("a mistake in a pipeline, at apply", () => {
  const project = makeProject({ "pipelines/shop.yaml": pipeline, "data/orders.csv": "id,amount\n1,5\n2,7\n" })
  afterAll(() => project.remove())

  it("is reported once per table, at the transform, expectation or query that holds it, in the person's own words", { timeout: 120_000 }, () => {
    const result = cli(project.dir, ["apply"])
    assert.strictEqual(result.code, 1, result.stderr)
    const out = result.stdout
    assert.match(out, /pipelines\/shop\.yaml:13:9: silver\.typo_in_filter transforms\[2\]\.filter: Binder Error: Referenced column "amont" not found[^\n]*"amount"/)
    assert.match(out, /\n +transforms\[2\]\.filter: amont > 3\n/)
    assert.match(out, /pipelines\/shop\.yaml:20:9: silver\.typo_in_check expect\[1\]: Binder Error: Referenced column "ammount" not found/)
    assert.match(out, /\n +expect\[1\]: ammount >= 0\n/)
    assert.match(out, /pipelines\/shop\.yaml:24:9: silver\.unknown_type transforms\[0\]\.cast: [^\n]*integre/)
    assert.match(out, /pipelines\/shop\.yaml:27:5: gold\.typo_in_sql sql: [^\n]*"idd"/)
    // Not the generated SQL, not medallion's columns, and not a second copy in a log line.
    assert.notMatch(out + result.stderr, /__medallion|step_\d|LINE \d+:/)
    assert.strictEqual(result.stderr.match(/amont/g), null, result.stderr)
    assert.strictEqual(out.match(/Referenced column "amont"/g)?.length, 1)
    assert.include(out, "(the SQL that failed: medallion apply --verbose")
  })

  it("--verbose adds the statement that failed", { timeout: 120_000 }, () => {
    const result = cli(project.dir, ["apply", "--select", "silver.typo_in_filter", "--verbose"])
    assert.strictEqual(result.code, 1, result.stderr)
    assert.match(result.stdout, /in statement: CREATE OR REPLACE TEMP TABLE "__stage_silver_typo_in_filter"/)
  })
})
