/** `medallion validate` as a child process: exit codes, file:line:col on stderr, --json on stdout. */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { cli, makeProject } from "../support/project.ts"
import { locate } from "../spec/positions.ts"

const shop = `version: 1
pipeline: shop
sources:
  orders_raw: { format: csv, path: data/orders.csv }
bronze:
  orders: { from: orders_raw }
silver:
  orders:
    from: bronze.orders
    transforms:
      - dedupe: { keys: [id] }
gold:
  totals:
    sql: select count(*) as n from {{ silver.orders }}
`

const reports = `version: 1
pipeline: reports
gold:
  big_orders:
    from: silver.orders
    mode: view
`

const misspelled = `version: 1
pipeline: typo
silver:
  x:
    from: bronze.orders
    mdoe: view
`

const badIndent = `version: 1
pipeline: indent
sources:
  raw:
    format: csv
   path: data/raw.csv
`

const unknownRef = `version: 1
pipeline: refs
gold:
  revenue:
    from: silver.ordrs
`

const cycle = `version: 1
pipeline: loop
silver:
  a: { from: silver.b }
  b: { from: silver.a }
`

const bombLevels = Array.from({ length: 10 }, (_, i) => `  l${i + 1}: &l${i + 1} [${Array(9).fill(`*l${i}`).join(", ")}]`)
/** Ten levels of nine nested aliases: 9^10 values if expanded. */
const aliasBomb = `version: 1
pipeline: bomb
description: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]
sources:
${bombLevels.join("\n")}
`

/** A table under each of the names medallion keeps for itself. */
const reservedForms = [
  { form: "__next", text: `${shop}  g__next:\n    from: silver.orders\n`, key: "g__next:", says: "gold.g__next: the suffix __next is reserved" },
  {
    form: "__quarantine",
    text: shop.replace("gold:\n", "  c__quarantine: { from: bronze.orders }\ngold:\n"),
    key: "c__quarantine:",
    says: "silver.c__quarantine: the suffix __quarantine is reserved for medallion's own tables (c's quarantine rows go to silver.c__quarantine); rename the table"
  },
  {
    form: "__rejects",
    text: shop.replace("silver:\n", "  orders__rejects: { from: orders_raw }\nsilver:\n"),
    key: "orders__rejects:",
    says: "bronze.orders__rejects: the suffix __rejects is reserved"
  },
  { form: "a leading __", text: `${shop}  __totals:\n    from: silver.orders\n`, key: "__totals:", says: "gold.__totals: names starting with __ are reserved" }
]

/** The one problem line of stderr, split into its place and its reason. */
const oneProblem = (stderr: string) => {
  const lines = stderr.trim().split("\n")
  assert.strictEqual(lines.length, 1, `expected one line on stderr, got:\n${stderr}`)
  const match = /^(.+?):(\d+):(\d+): (.+)$/.exec(lines[0]!)
  assert.isNotNull(match, `not file:line:col: reason: ${lines[0]}`)
  return { file: match![1]!, line: Number(match![2]), column: Number(match![3]), reason: match![4]! }
}

const assertNoStackTrace = (output: string) => {
  assert.notMatch(output, /^\s+at /m, `stack trace in:\n${output}`)
  assert.notInclude(output, "node:internal")
}

describe("medallion validate", () => {
  const project = makeProject({
    "pipelines/shop.yaml": shop,
    "pipelines/reports.yaml": reports,
    "data/orders.csv": "id\n1\n",
    "bad/misspelled.yaml": misspelled,
    "bad/indent.yaml": badIndent,
    "bad/unknown-ref.yaml": unknownRef,
    "bad/cycle.yaml": cycle,
    "bad/bomb.yaml": aliasBomb,
    ...Object.fromEntries(reservedForms.map((r, i) => [`reserved/${i}.yaml`, r.text]))
  })
  afterAll(() => project.remove())

  it("exits 0 on valid files and lists the tables in dependency order", () => {
    const result = cli(project.dir, ["validate", "pipelines/shop.yaml", "pipelines/reports.yaml"])
    assert.strictEqual(result.code, 0, result.stderr)
    assert.include(result.stdout, "2 pipeline(s), 4 table(s)")
    const order = ["bronze.orders", "silver.orders", "gold.big_orders", "gold.totals"].map((t) => result.stdout.indexOf(t))
    assert.notInclude(order, -1)
    assert.isBelow(order[0]!, order[1]!)
    assert.isBelow(order[1]!, order[2]!)
    assert.match(result.stdout, /gold\.big_orders\s+view\s+<- silver\.orders/)
    assert.strictEqual(result.stderr.trim(), "")
  })

  it("finds pipelines/*.yaml when no file is given", () => {
    const result = cli(project.dir, ["validate"])
    assert.strictEqual(result.code, 0, result.stderr)
    assert.include(result.stdout, "2 pipeline(s), 4 table(s)")
  })

  it("prints one JSON document with --json", () => {
    const result = cli(project.dir, ["validate", "--json", "pipelines/shop.yaml"])
    assert.strictEqual(result.code, 0, result.stderr)
    const doc = JSON.parse(result.stdout) as {
      valid: boolean
      pipelines: Array<string>
      tables: Array<{ table: string; pipeline: string; mode: string; depends_on: Array<string> }>
    }
    assert.strictEqual(doc.valid, true)
    assert.deepStrictEqual(doc.pipelines, ["shop"])
    assert.deepStrictEqual(doc.tables, [
      { table: "bronze.orders", pipeline: "shop", mode: "replace", depends_on: [] },
      { table: "silver.orders", pipeline: "shop", mode: "replace", depends_on: ["bronze.orders"] },
      { table: "gold.totals", pipeline: "shop", mode: "replace", depends_on: ["silver.orders"] }
    ])
  })

  it("exits 2 on a misspelled key, with file:line:col and a suggestion", () => {
    const result = cli(project.dir, ["validate", "bad/misspelled.yaml"])
    assert.strictEqual(result.code, 2, result.stdout + result.stderr)
    const problem = oneProblem(result.stderr)
    assert.deepStrictEqual([problem.file, problem.line, problem.column], ["bad/misspelled.yaml", locate(misspelled, "mdoe").line, locate(misspelled, "mdoe").column])
    assert.include(problem.reason, 'unknown key "mdoe"')
    assert.include(problem.reason, "did you mean mode?")
    assertNoStackTrace(result.stderr + result.stdout)
  })

  it("exits 2 on bad indentation, at the misaligned line", () => {
    const result = cli(project.dir, ["validate", "bad/indent.yaml"])
    assert.strictEqual(result.code, 2, result.stdout + result.stderr)
    const problem = oneProblem(result.stderr)
    assert.strictEqual(problem.file, "bad/indent.yaml")
    assert.strictEqual(problem.line, locate(badIndent, "path:").line)
    assert.isAtLeast(problem.column, 1)
    assert.include(problem.reason, "indentation")
    assertNoStackTrace(result.stderr + result.stdout)
  })

  it("exits 2 on an unknown reference, with a suggestion from the other files", () => {
    const result = cli(project.dir, ["validate", "pipelines/shop.yaml", "bad/unknown-ref.yaml"])
    assert.strictEqual(result.code, 2, result.stdout + result.stderr)
    const problem = oneProblem(result.stderr)
    const at = locate(unknownRef, "silver.ordrs")
    assert.deepStrictEqual([problem.file, problem.line, problem.column], ["bad/unknown-ref.yaml", at.line, at.column])
    assert.include(problem.reason, 'unknown table "silver.ordrs"')
    assert.include(problem.reason, "did you mean silver.orders?")
    assertNoStackTrace(result.stderr + result.stdout)
  })

  it("exits 2 on a cycle, with the whole path", () => {
    const result = cli(project.dir, ["validate", "bad/cycle.yaml"])
    assert.strictEqual(result.code, 2, result.stdout + result.stderr)
    const problem = oneProblem(result.stderr)
    assert.strictEqual(problem.file, "bad/cycle.yaml")
    assert.oneOf(problem.line, [locate(cycle, "a: {").line, locate(cycle, "b: {").line])
    assert.match(problem.reason, /cycle: (silver\.a -> silver\.b -> silver\.a|silver\.b -> silver\.a -> silver\.b)/)
    assertNoStackTrace(result.stderr + result.stdout)
  })

  it("exits 2 on a YAML alias bomb, at the first nested alias, in a pipeline file and in a config file", () => {
    const result = cli(project.dir, ["validate", "bad/bomb.yaml"])
    assert.strictEqual(result.code, 2, result.stdout + result.stderr)
    const problem = oneProblem(result.stderr)
    const at = locate(aliasBomb, "*l1")
    assert.deepStrictEqual([problem.file, problem.line, problem.column], ["bad/bomb.yaml", at.line, at.column])
    assert.include(problem.reason, "aliases expand too far")
    const config = makeProject({ "pipelines/shop.yaml": shop, "config/default.yaml": aliasBomb.replace("sources:", "duckdb:") })
    try {
      const runs = cli(config.dir, ["runs"])
      assert.strictEqual(runs.code, 2, runs.stdout + runs.stderr)
      const inConfig = oneProblem(runs.stderr)
      assert.deepStrictEqual([inConfig.file, inConfig.line, inConfig.column], ["config/default.yaml", at.line, at.column])
    } finally {
      config.remove()
    }
  })

  reservedForms.forEach((r, i) => {
    it(`exits 2 on a table named with ${r.form}, at the table's key`, () => {
      const result = cli(project.dir, ["validate", `reserved/${i}.yaml`])
      assert.strictEqual(result.code, 2, result.stdout + result.stderr)
      const problem = oneProblem(result.stderr)
      const at = locate(r.text, r.key)
      assert.deepStrictEqual([problem.file, problem.line, problem.column], [`reserved/${i}.yaml`, at.line, at.column])
      assert.include(problem.reason, r.says)
    })
  })

  it("exits 2 when a source's file does not exist or its glob matches nothing, at the source's path; --no-data-check skips the check", () => {
    const text = `version: 1
pipeline: later
sources:
  daily: { format: csv, path: data/daily/*.csv }
  plain: { format: csv, path: data/customers.csv }
  unread: { format: csv, path: data/nowhere.csv }
bronze:
  daily: { from: daily }
  plain: { from: plain }
`
    const later = makeProject({ "pipelines/later.yaml": text, "data/daily/readme.txt": "not a csv" })
    try {
      const result = cli(later.dir, ["validate"])
      assert.strictEqual(result.code, 2, result.stdout + result.stderr)
      const lines = result.stderr.trim().split("\n")
      assert.strictEqual(lines.length, 2, result.stderr)
      const glob = locate(text, "data/daily/*.csv")
      const plain = locate(text, "data/customers.csv")
      assert.strictEqual(
        lines[0],
        `pipelines/later.yaml:${glob.line}:${glob.column}: sources.daily.path: no file matches data/daily/*.csv (paths are relative to the project directory); put the data there, or pass --no-data-check if it arrives later`
      )
      assert.strictEqual(
        lines[1],
        `pipelines/later.yaml:${plain.line}:${plain.column}: sources.plain.path: there is no file data/customers.csv (paths are relative to the project directory); put the data there, or pass --no-data-check if it arrives later`
      )
      const json = cli(later.dir, ["validate", "--json"])
      assert.strictEqual(json.code, 2)
      assert.strictEqual((JSON.parse(json.stdout) as { valid: boolean; problems: Array<unknown> }).problems.length, 2)
      const skipped = cli(later.dir, ["validate", "--no-data-check"])
      assert.strictEqual(skipped.code, 0, skipped.stdout + skipped.stderr)
      later.write("data/daily/2026-12-01.csv", "id\n1\n")
      later.write("data/customers.csv", "id\n1\n")
      const arrived = cli(later.dir, ["validate"])
      assert.strictEqual(arrived.code, 0, arrived.stdout + arrived.stderr)
    } finally {
      later.remove()
    }
  })

  it("exits 2 on a file that does not exist, naming it", () => {
    const result = cli(project.dir, ["validate", "pipelines/nope.yaml"])
    assert.strictEqual(result.code, 2, result.stdout + result.stderr)
    const problem = oneProblem(result.stderr)
    assert.strictEqual(problem.file, "pipelines/nope.yaml")
    assertNoStackTrace(result.stderr + result.stdout)
  })
})
