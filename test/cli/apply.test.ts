/** The CLI as a child process: apply, runs, show and schema, their output and exit codes. */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { DuckDBInstance } from "@duckdb/node-api"
import { describe, it } from "@effect/vitest"
import { assert, afterAll } from "vitest"
import { cli, makeProject } from "../support/project.ts"

const pipeline = `
version: 1
pipeline: shop
sources:
  orders_raw: { format: csv, path: data/orders/*.csv }
bronze:
  orders: { from: orders_raw }
silver:
  orders:
    from: bronze.orders
    transforms:
      - cast: { columns: { id: int, amount: "decimal(10,2)" }, on_error: quarantine }
      - dedupe: { keys: [id] }
    expect:
      - { name: positive_amount, check: amount > 0, on_fail: drop }
gold:
  revenue:
    from: silver.orders
    transforms:
      - aggregate: { metrics: { revenue: sum(amount), orders: count(*) } }
`

describe("medallion CLI", () => {
  const project = makeProject({
    "pipelines/shop.yaml": pipeline,
    "data/orders/a.csv": "id,amount\n1,10.50\n2,abc\n3,-1\n3,-1\n4,5,extra\n"
  })
  afterAll(() => project.remove())

  it("applies, reports per table, and exits 0", () => {
    const result = cli(project.dir, ["apply"])
    assert.strictEqual(result.code, 0, result.stderr)
    assert.match(result.stdout, /ok\s+bronze\.orders\s+replace\s+in 5\s+out 4\s+rejected lines 1/)
    assert.match(result.stdout, /ok\s+silver\.orders\s+replace\s+in 4\s+out 1\s+quarantined 1\s+dropped 1\s+duplicates 1/)
    assert.match(result.stdout, /run succeeded: 3 succeeded, 0 unchanged, 0 failed, 0 skipped/)
  })

  it("prints one JSON document with --json, and a re-apply leaves the same gold", () => {
    const result = cli(project.dir, ["apply", "--json"])
    assert.strictEqual(result.code, 0, result.stderr)
    const report = JSON.parse(result.stdout) as { run: { status: string; batch_id: string }; tables: Array<{ table: string; status: string }> }
    assert.strictEqual(report.run.status, "succeeded")
    assert.deepStrictEqual(
      report.tables.map((t) => [t.table, t.status]),
      [
        ["bronze.orders", "unchanged"],
        ["silver.orders", "unchanged"],
        ["gold.revenue", "unchanged"]
      ]
    )
    const gold = JSON.parse(cli(project.dir, ["show", "gold.revenue", "--json"]).stdout) as Array<Record<string, unknown>>
    assert.deepStrictEqual(gold, [{ revenue: 10.5, orders: 1 }])
  })

  it("lists runs and one run's tables", () => {
    const runs = JSON.parse(cli(project.dir, ["runs", "--json"]).stdout) as Array<{ batch_id: string; status: string; records_in: number; started_at: string; finished_at: string }>
    assert.isAtLeast(runs.length, 2)
    for (const r of runs) for (const at of [r.started_at, r.finished_at]) assert.match(at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.notStrictEqual(runs[0]!.batch_id, runs[1]!.batch_id)
    const one = JSON.parse(cli(project.dir, ["runs", runs.at(-1)!.batch_id, "--json"]).stdout) as { tables: Array<{ table: string; rejected: number }> }
    assert.strictEqual(one.tables.find((t) => t.table === "bronze.orders")?.rejected, 1)
  })

  it("names a no-op run's unchanged tables, and upgrades a store written before they were named on the run", async () => {
    const old = makeProject({ "pipelines/shop.yaml": pipeline, "data/orders/a.csv": "id,amount\n1,10.50\n2,3\n" })
    try {
      assert.strictEqual(cli(old.dir, ["apply"]).code, 0)
      // The store as version 1 left it: no runs.unchanged_tables column.
      const db = await DuckDBInstance.create(join(old.dir, ".medallion", "warehouse.duckdb"))
      const connection = await db.connect()
      await connection.run("ALTER TABLE _medallion.runs DROP COLUMN unchanged_tables")
      await connection.run("CREATE OR REPLACE TABLE _medallion.meta AS SELECT 1 AS version")
      connection.closeSync()
      db.closeSync()

      type Run = { batch_id: string; unchanged_tables: Array<string> }
      const before = JSON.parse(cli(old.dir, ["runs", "--json"]).stdout) as Array<Run>
      assert.deepStrictEqual(
        before.map((r) => r.unchanged_tables),
        [[]]
      )
      const noop = cli(old.dir, ["apply"])
      assert.strictEqual(noop.code, 0, noop.stderr)
      const after = JSON.parse(cli(old.dir, ["runs", "--json"]).stdout) as Array<Run>
      assert.deepStrictEqual(
        after.map((r) => r.unchanged_tables),
        [["bronze.orders", "silver.orders", "gold.revenue"], []]
      )
      const shown = cli(old.dir, ["runs", after[0]!.batch_id])
      assert.strictEqual(shown.stdout.trim(), "unchanged (3): bronze.orders, silver.orders, gold.revenue")
      const detail = JSON.parse(cli(old.dir, ["runs", after[0]!.batch_id, "--json"]).stdout) as { batch_id: string; tables: Array<unknown>; unchanged_tables: Array<string> }
      assert.deepStrictEqual(detail, { batch_id: after[0]!.batch_id, tables: [], unchanged_tables: ["bronze.orders", "silver.orders", "gold.revenue"] })
      const unknown = cli(old.dir, ["runs", "20000101T000000000Z-00000000"])
      assert.strictEqual(unknown.code, 2, unknown.stdout + unknown.stderr)
      assert.match(unknown.stderr, /no run 20000101T000000000Z-00000000 .*; medallion runs lists the recent runs/)
    } finally {
      old.remove()
    }
  })

  it("leaves the warehouse file as it was when nothing changed; the run waits beside it until the history is next written", async () => {
    const quiet = makeProject({ "pipelines/shop.yaml": pipeline, "data/orders/a.csv": "id,amount\n1,10.50\n2,3\n" })
    try {
      const file = join(quiet.dir, ".medallion", "warehouse.duckdb")
      const pending = `${file}.pending-runs.jsonl`
      const batchOf = (result: { stdout: string }) => (JSON.parse(result.stdout) as { run: { batch_id: string } }).run.batch_id
      const first = batchOf(cli(quiet.dir, ["apply", "--json"]))
      const before = readFileSync(file)
      const noop = batchOf(cli(quiet.dir, ["apply", "--json"]))
      assert.isTrue(readFileSync(file).equals(before), "a no-op apply changed the warehouse file")
      assert.deepStrictEqual(
        readFileSync(pending, "utf8")
          .trim()
          .split("\n")
          .map((line) => (JSON.parse(line) as { batch_id: string }).batch_id),
        [noop]
      )
      // The next apply that writes records it with its own run.
      quiet.write("data/orders/b.csv", "id,amount\n3,1.25\n")
      const third = batchOf(cli(quiet.dir, ["apply", "--json"]))
      assert.isFalse(existsSync(pending))
      const db = await DuckDBInstance.create(file)
      const connection = await db.connect()
      const stored = (await connection.runAndReadAll("SELECT batch_id, unchanged_tables FROM _medallion.runs ORDER BY batch_id")).getRowObjectsJson()
      connection.closeSync()
      db.closeSync()
      assert.deepStrictEqual(stored, [
        { batch_id: first, unchanged_tables: "" },
        { batch_id: noop, unchanged_tables: "bronze.orders,silver.orders,gold.revenue" },
        { batch_id: third, unchanged_tables: "" }
      ])
      // Any other command takes in what waits before it reads.
      const fourth = batchOf(cli(quiet.dir, ["apply", "--json"]))
      assert.isTrue(existsSync(pending))
      const listed = JSON.parse(cli(quiet.dir, ["runs", "--json"]).stdout) as Array<{ batch_id: string; status: string }>
      assert.deepStrictEqual(
        listed.map((r) => r.batch_id),
        [fourth, third, noop, first]
      )
      assert.isFalse(existsSync(pending))
    } finally {
      quiet.remove()
    }
  })

  it("shows rows with --limit and suggests a table name for typos", () => {
    const rows = JSON.parse(cli(project.dir, ["show", "bronze.orders", "--limit", "2", "--json"]).stdout) as Array<Record<string, unknown>>
    assert.strictEqual(rows.length, 2)
    assert.containsAllKeys(rows[0], ["id", "amount", "_batch_id", "_source_file", "_ingested_at"])
    const typo = cli(project.dir, ["show", "silver.ordrs"])
    assert.strictEqual(typo.code, 2)
    assert.match(typo.stderr, /did you mean silver\.orders\?/)
  })

  it("refuses a --limit that is not a whole number from 1, naming the flag", () => {
    const cases = [
      [["show", "bronze.orders"], "rows", ["-5", "0", "abc"]],
      [["runs"], "runs", ["-5"]]
    ] as const
    for (const [command, what, limits] of cases) {
      for (const limit of limits) {
        const result = cli(project.dir, [...command, "--limit", limit])
        assert.strictEqual(result.code, 2, `${command[0]} --limit ${limit}: ${result.stdout}${result.stderr}`)
        assert.include(result.stderr, `Invalid value for flag --limit: "${limit}"`)
        if (limit !== "abc") assert.include(result.stderr, `how many ${what} to show, a whole number from 1 up`)
        assert.notInclude(result.stdout, "(no rows)")
      }
    }
  })

  it("exits 1 when a table fails, names it, skips its dependents, and prints no stack trace", () => {
    const failing = makeProject({
      "pipelines/shop.yaml": pipeline.replace("on_fail: drop", "on_fail: fail"),
      "data/orders/a.csv": "id,amount\n1,10\n2,-5\n"
    })
    try {
      const result = cli(failing.dir, ["apply"])
      assert.strictEqual(result.code, 1)
      assert.match(result.stdout, /FAIL\s+silver\.orders/)
      assert.match(result.stdout, /expectation positive_amount failed for 1 row/)
      assert.match(result.stdout, /skip\s+gold\.revenue\s+replace\s+skipped: upstream silver\.orders failed/)
      assert.notMatch(result.stdout + result.stderr, /\n\s+at /)
    } finally {
      failing.remove()
    }
  })

  it("exits 2 on usage errors and unknown selections", () => {
    assert.strictEqual(cli(project.dir, ["apply", "--no-such-flag"]).code, 2)
    const select = cli(project.dir, ["apply", "--select", "silver.ordrs"])
    assert.strictEqual(select.code, 2)
    assert.match(select.stderr, /silver\.ordrs: unknown table "silver\.ordrs"; did you mean silver\.orders\?/)
  })

  it("reports a spec error with its position; creates no warehouse on a fresh project, and leaves an existing one as it was", () => {
    const broken = pipeline.replace("from: bronze.orders", "from: bronze.ordrs")
    const fresh = makeProject({ "pipelines/shop.yaml": broken, "data/orders/a.csv": "id,amount\n1,10\n" })
    try {
      const result = cli(fresh.dir, ["apply"])
      assert.strictEqual(result.code, 2, result.stderr)
      assert.match(result.stderr, /pipelines\/shop\.yaml:\d+:\d+.*bronze\.ordrs/)
      assert.isFalse(existsSync(join(fresh.dir, ".medallion")), "a spec error created the warehouse")
    } finally {
      fresh.remove()
    }
    // An existing warehouse is opened while the pipelines are read: the error still leaves no lock and no run.
    const runsBefore = (JSON.parse(cli(project.dir, ["runs", "--json"]).stdout) as Array<unknown>).length
    const original = readFileSync(join(project.dir, "pipelines/shop.yaml"), "utf8")
    writeFileSync(join(project.dir, "pipelines/shop.yaml"), broken)
    try {
      const result = cli(project.dir, ["apply"])
      assert.strictEqual(result.code, 2, result.stderr)
      assert.match(result.stderr, /bronze\.ordrs/)
    } finally {
      writeFileSync(join(project.dir, "pipelines/shop.yaml"), original)
    }
    assert.isFalse(existsSync(join(project.dir, ".medallion", "warehouse.duckdb.lock")))
    assert.strictEqual((JSON.parse(cli(project.dir, ["runs", "--json"]).stdout) as Array<unknown>).length, runsBefore)
  })

  it("runs only the selected tables", () => {
    const result = cli(project.dir, ["apply", "--select", "+silver.orders", "--json"])
    assert.strictEqual(result.code, 0, result.stderr)
    const report = JSON.parse(result.stdout) as { tables: Array<{ table: string }> }
    assert.deepStrictEqual(
      report.tables.map((t) => t.table),
      ["bronze.orders", "silver.orders"]
    )
  })

  it("writes the JSON Schema", () => {
    const result = cli(project.dir, ["schema"])
    assert.strictEqual(result.code, 0)
    const schema = JSON.parse(result.stdout) as { properties: Record<string, unknown> }
    assert.containsAllKeys(schema.properties, ["version", "pipeline", "sources", "bronze", "silver", "gold"])
  })
})
