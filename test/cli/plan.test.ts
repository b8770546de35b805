/**
 * `medallion plan` as a child process: what apply would do to each table and why, as text and
 * JSON, for --select and --full-refresh; it never creates or changes the warehouse.
 */
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { describe, it } from "@effect/vitest"
import { afterAll, assert } from "vitest"
import { cli, makeProject } from "../support/project.ts"

const pipeline = (silverTransforms = `[ { cast: { id: integer, amount: integer } } ]`) => `
version: 1
pipeline: shop
sources:
  events: { format: csv, path: "data/events/*.csv", incremental: true }
bronze:
  events: { from: events }
silver:
  events:
    from: bronze.events
    mode: append
    transforms: ${silverTransforms}
gold:
  totals:
    from: silver.events
    transforms:
      - aggregate: { metrics: { n: "count(*)", total: sum(amount) } }
`

interface Planned {
  readonly table: string
  readonly action: string
  readonly reasons: ReadonlyArray<string>
  readonly new_inputs: number | null
  readonly new_rows: number | null
  readonly new_columns: ReadonlyArray<string>
  readonly depends_on: ReadonlyArray<string>
}

const keys = ["table", "action", "reasons", "new_inputs", "new_rows", "new_columns", "depends_on"] as const

describe("medallion plan", () => {
  const project = makeProject({
    "pipelines/shop.yaml": pipeline(),
    "data/events/a.csv": "id,amount\n1,10\n2,20\n"
  })
  afterAll(() => project.remove())
  const warehouse = join(project.dir, ".medallion", "warehouse.duckdb")

  /** Runs plan, asserts exit code 0, and returns stdout. */
  const plan = (...args: ReadonlyArray<string>) => {
    const result = cli(project.dir, ["plan", ...args])
    assert.strictEqual(result.code, 0, result.stderr)
    return result.stdout
  }
  /** Runs plan --json and returns the tables, with exactly the documented keys picked out. */
  const planJson = (...args: ReadonlyArray<string>): ReadonlyArray<Planned> => {
    const document = JSON.parse(plan("--json", ...args)) as { tables: ReadonlyArray<Planned> }
    for (const t of document.tables) assert.includeMembers(Object.keys(t), [...keys], t.table)
    return document.tables.map((t) => Object.fromEntries(keys.map((k) => [k, t[k]])) as unknown as Planned)
  }
  const apply = (...args: ReadonlyArray<string>) => {
    const result = cli(project.dir, ["apply", ...args])
    assert.strictEqual(result.code, 0, `${result.stdout}\n${result.stderr}`)
  }
  /** The warehouse file's content hash and modification time, and the files beside it. */
  const fingerprint = () => ({
    sha256: createHash("sha256").update(readFileSync(warehouse)).digest("hex"),
    mtimeMs: statSync(warehouse).mtimeMs,
    files: readdirSync(join(project.dir, ".medallion")).sort()
  })
  /** The line of the text output for a table, with the runs of spaces collapsed. */
  const lineOf = (text: string, table: string) => {
    const line = text.split("\n").find((l) => l.includes(` ${table} `))
    assert.isDefined(line, `no line for ${table} in:\n${text}`)
    return line!.trim().replace(/\s+/g, " ")
  }

  it("on a fresh project plans every table as create and creates no warehouse", () => {
    const text = plan()
    assert.include(text, `medallion plan: 3 table(s), env default, warehouse ${warehouse} (not created yet)`)
    assert.strictEqual(lineOf(text, "bronze.events"), "create bronze.events append new table")
    assert.strictEqual(lineOf(text, "silver.events"), "create silver.events append new table")
    assert.strictEqual(lineOf(text, "gold.totals"), "create gold.totals replace new table")
    assert.match(text, /<- silver\.events/)
    assert.include(text, "3 to create, 0 to rebuild, 0 incremental, 0 unchanged")
    assert.deepStrictEqual(
      planJson().map((t) => [t.table, t.action, t.reasons, t.depends_on]),
      [
        ["bronze.events", "create", ["new table"], []],
        ["silver.events", "create", ["new table"], ["bronze.events"]],
        ["gold.totals", "create", ["new table"], ["silver.events"]]
      ]
    )
    assert.isFalse(existsSync(join(project.dir, ".medallion")), "plan created the storage folder")
  })

  it("after apply plans every table as skip, and leaves the warehouse file as it was", () => {
    apply()
    const before = fingerprint()
    const text = plan()
    assert.notInclude(text, "not created yet")
    for (const [table, mode] of [
      ["bronze.events", "append"],
      ["silver.events", "append"],
      ["gold.totals", "replace"]
    ]) {
      assert.strictEqual(lineOf(text, table!), `skip ${table} ${mode} unchanged: same definition and inputs as the last run`)
    }
    assert.include(text, "0 to create, 0 to rebuild, 0 incremental, 3 unchanged")
    assert.deepStrictEqual(fingerprint(), before)
  })

  it("after a new file: bronze and the silver append incremental, gold rebuilt, with files, rows and new columns", () => {
    project.write("data/events/b.csv", "id,amount,channel\n3,30,web\n4,40,shop\n5,50,web\n")
    const before = fingerprint()
    const text = plan()
    assert.strictEqual(lineOf(text, "bronze.events"), "incremental bronze.events append files changed; 1 new file, 3 rows, new columns: channel")
    assert.strictEqual(lineOf(text, "silver.events"), "incremental silver.events append new data in bronze.events")
    assert.strictEqual(lineOf(text, "gold.totals"), "rebuild gold.totals replace new data in silver.events")
    assert.include(text, "0 to create, 1 to rebuild, 2 incremental, 0 unchanged")
    assert.deepStrictEqual(planJson(), [
      { table: "bronze.events", action: "incremental", reasons: ["files changed"], new_inputs: 1, new_rows: 3, new_columns: ["channel"], depends_on: [] },
      // Its new batch does not exist before bronze runs: counts unknown.
      { table: "silver.events", action: "incremental", reasons: ["new data in bronze.events"], new_inputs: null, new_rows: null, new_columns: [], depends_on: ["bronze.events"] },
      { table: "gold.totals", action: "rebuild", reasons: ["new data in silver.events"], new_inputs: null, new_rows: null, new_columns: [], depends_on: ["silver.events"] }
    ])
    assert.deepStrictEqual(fingerprint(), before)
  })

  it("counts a silver append's new batches when bronze has already taken them", () => {
    apply("--select", "bronze.events")
    assert.deepStrictEqual(
      planJson().map((t) => [t.table, t.action, t.reasons, t.new_inputs, t.new_rows]),
      [
        ["bronze.events", "skip", ["unchanged: same definition and inputs as the last run"], null, null],
        ["silver.events", "incremental", ["new data in bronze.events"], 1, 3],
        ["gold.totals", "rebuild", ["new data in silver.events"], null, null]
      ]
    )
    apply()
  })

  it("after editing a transform: rebuild naming the part, and its downstream rebuilt for new data", () => {
    project.write("pipelines/shop.yaml", pipeline(`[ { cast: { id: integer, amount: integer } }, { filter: "amount > 10" } ]`))
    const before = fingerprint()
    const text = plan()
    assert.strictEqual(lineOf(text, "bronze.events"), "skip bronze.events append unchanged: same definition and inputs as the last run")
    assert.strictEqual(lineOf(text, "silver.events"), "rebuild silver.events append spec changed: transforms")
    assert.strictEqual(lineOf(text, "gold.totals"), "rebuild gold.totals replace new data in silver.events")
    assert.include(text, "0 to create, 2 to rebuild, 0 incremental, 1 unchanged")
    assert.deepStrictEqual(fingerprint(), before)
  })

  it("--select limits the tables planned", () => {
    const one = plan("--select", "silver.events")
    assert.include(one, "medallion plan: 1 table(s)")
    assert.strictEqual(lineOf(one, "silver.events"), "rebuild silver.events append spec changed: transforms")
    assert.notInclude(one, "bronze.events append")
    assert.notInclude(one, "gold.totals")
    assert.deepStrictEqual(
      planJson("--select", "silver.events+").map((t) => [t.table, t.action, t.reasons]),
      [
        ["silver.events", "rebuild", ["spec changed: transforms"]],
        ["gold.totals", "rebuild", ["new data in silver.events"]]
      ]
    )
  })

  it("--full-refresh plans a rebuild of the selected tables only", () => {
    const before = fingerprint()
    assert.deepStrictEqual(
      planJson("--full-refresh", "--select", "bronze.events").map((t) => [t.table, t.action, t.reasons]),
      [["bronze.events", "rebuild", ["--full-refresh"]]]
    )
    assert.strictEqual(lineOf(plan("--full-refresh", "--select", "+gold.totals"), "gold.totals"), "rebuild gold.totals replace --full-refresh")
    assert.deepStrictEqual(fingerprint(), before)
  })

  it("a source glob that matches nothing is an error naming the path, without a stack trace", () => {
    project.write("other/missing.yaml", pipeline().replace("pipeline: shop", "pipeline: other").replace("data/events/*.csv", "data/nowhere/*.csv"))
    const before = fingerprint()
    const result = cli(project.dir, ["plan", "other/missing.yaml"])
    assert.notStrictEqual(result.code, 0)
    assert.include(result.stderr, "bronze.events: no files match the source path")
    assert.include(result.stderr, "(data/nowhere/*.csv)")
    assert.notMatch(result.stderr, /^\s+at /m)
    assert.deepStrictEqual(fingerprint(), before)
  })

  it("warns, as apply would fail, when an ingested file changed", () => {
    const changed = makeProject({ "pipelines/shop.yaml": pipeline(), "data/events/a.csv": "id,amount\n1,10\n" })
    try {
      assert.strictEqual(cli(changed.dir, ["apply"]).code, 0)
      changed.write("data/events/a.csv", "id,amount\n1,11\n")
      const result = cli(changed.dir, ["plan"])
      assert.strictEqual(result.code, 0, result.stderr)
      assert.match(result.stdout, /bronze\.events\s+append\s+files changed; will fail: bronze\.events: this file changed after it was ingested .*a\.csv\)/)
    } finally {
      changed.remove()
    }
  })
})
