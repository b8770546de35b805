/**
 * `medallion validate` on misused join and top steps, as a child process: exit 2 and one
 * file:line:col line per problem on stderr; the same steps used as documented pass.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { cli, makeProject } from "../support/project.ts"
import { locate } from "../spec/positions.ts"

const head = `version: 1
pipeline: steps
sources:
  orders: { format: csv, path: data/orders.csv }
bronze:
  orders: { from: orders }
silver:
  customers: { from: bronze.orders }
`

const valid = `${head}  orders:
    from: bronze.orders
    transforms:
      - join: { to: silver.customers, on: [id], columns: [], how: inner, on_unmatched: drop }
      - aggregate: { by: [id], metrics: { n: count(*) } }
      - top: { n: 10, order_by: [n desc], by: [id], with_ties: true }
      - join: { to: silver.customers, on: [id], columns: { customer: id }, on_unmatched: quarantine, name: known_customer }
`

const misused = `${head}  contradicts:
    from: bronze.orders
    transforms:
      - join: { to: silver.customers, on: [id], how: inner, on_unmatched: keep }
      - join: { to: silver.customers, on: [id], how: left, on_unmatched: quarantine }
  before_aggregate:
    from: bronze.orders
    transforms:
      - join: { to: silver.customers, on: [id], columns: [], on_unmatched: quarantine }
      - aggregate: { by: [id], metrics: { n: count(*) } }
  before_top:
    from: bronze.orders
    transforms:
      - join: { to: silver.customers, on: [id], columns: [], on_unmatched: quarantine }
      - top: { n: 1, order_by: id }
  in_view:
    from: bronze.orders
    mode: view
    transforms:
      - join: { to: silver.customers, on: [id], columns: [], on_unmatched: quarantine }
`

const misspelled = `${head}  orders:
    from: bronze.orders
    transforms:
      - join: { to: silver.customers, on: [id], on_unmatched: ignore, columns: { a: 1 } }
      - top: { n: 0, order_by: id }
      - top: { n: 2, by: [id] }
`

/** The problem lines of stderr, each split into its place and its reason. */
const problems = (stderr: string) =>
  stderr
    .trim()
    .split("\n")
    .map((line) => {
      const match = /^(.+?):(\d+):(\d+): (.+)$/.exec(line)
      assert.isNotNull(match, `not file:line:col: reason: ${line}`)
      return { file: match![1]!, line: Number(match![2]), column: Number(match![3]), reason: match![4]! }
    })

describe("medallion validate: join and top", () => {
  const project = makeProject({
    "data/orders.csv": "id\n1\n",
    "pipelines/valid.yaml": valid,
    "bad/misused.yaml": misused,
    "bad/misspelled.yaml": misspelled
  })
  afterAll(() => project.remove())

  it("accepts how and on_unmatched that agree, a quarantining join after the last change of grain, and top", () => {
    const result = cli(project.dir, ["validate", "pipelines/valid.yaml"])
    assert.strictEqual(result.code, 0, result.stdout + result.stderr)
  })

  it("exits 2 on contradictory how and on_unmatched, a quarantine before a change of grain or in a view, at each on_unmatched", () => {
    const result = cli(project.dir, ["validate", "bad/misused.yaml"])
    assert.strictEqual(result.code, 2, result.stdout + result.stderr)
    const at = (nth: number) => locate(misused, "on_unmatched:", nth)
    assert.deepStrictEqual(
      problems(result.stderr).map((p) => [p.file, p.line, p.column]),
      [0, 1, 2, 3, 4].map((nth) => ["bad/misused.yaml", at(nth).line, at(nth).column])
    )
    const reasons = problems(result.stderr).map((p) => p.reason)
    assert.include(reasons[0], "silver.contradicts: how: inner means on_unmatched: drop, which contradicts on_unmatched: keep")
    assert.include(reasons[1], "how: left means on_unmatched: keep, which contradicts on_unmatched: quarantine")
    assert.include(reasons[2], "silver.before_aggregate: on_unmatched: quarantine must come after the last aggregate, top or sql step")
    assert.include(reasons[3], "silver.before_top: on_unmatched: quarantine must come after the last aggregate, top or sql step")
    assert.include(reasons[4], "silver.in_view: a view cannot quarantine rows")
  })

  it("exits 2 on values the schema refuses: an unknown on_unmatched, a column name that is not text, n below 1, top without order_by", () => {
    const result = cli(project.dir, ["validate", "bad/misspelled.yaml"])
    assert.strictEqual(result.code, 2, result.stdout + result.stderr)
    const found = problems(result.stderr)
    const expected = [
      { at: locate(misspelled, "ignore"), says: 'transforms[0].join.on_unmatched: Expected "keep" | "drop" | "quarantine"' },
      { at: locate(misspelled, "1 }"), says: "transforms[0].join.columns.a: Expected string" },
      { at: locate(misspelled, "0, order_by"), says: "transforms[1].top.n: Expected a value greater than or equal to 1" },
      { at: locate(misspelled, "top: { n: 2"), says: 'transforms[2].top: missing required key "order_by"' }
    ]
    assert.deepStrictEqual(
      found.map((p) => [p.line, p.column]),
      expected.map((e) => [e.at.line, e.at.column])
    )
    for (const [i, e] of expected.entries()) assert.include(found[i]!.reason, e.says)
  })
})
