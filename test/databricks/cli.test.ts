/**
 * The CLI with `engine: databricks`: validate and plan need no connection; apply with missing
 * settings names them; `apply --env databricks` runs against the stand-in, `plan` then reads the
 * warehouse's state, `runs` reads the history, a held lock stops a second apply, and the token
 * never shows in any output, not even when the warehouse echoes it in an error (nor in the run's
 * history, its log lines, spans or exported logs).
 */
import { spawn } from "node:child_process"
import { afterAll, beforeAll, describe, it } from "vitest"
import { assert } from "@effect/vitest"
import { cliArgs, makeProject } from "../support/project.ts"
import { TOKEN, WAREHOUSE } from "../support/databricks/engine.ts"
import { type StandIn, startStandIn } from "../support/databricks/server.ts"
import { receiver } from "../telemetry/receiver.ts"

/** The CLI as a child process, asynchronously (the stand-in answers from this process meanwhile). */
const cli = (cwd: string, args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("DATABRICKS_") && !k.startsWith("MEDALLION_")))
    const child = spawn(process.execPath, cliArgs(args), { cwd, env: { ...clean, ...env, NO_COLOR: "1" } })
    let stdout = "",
      stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })

const pipeline = `
version: 1
pipeline: shop
sources:
  orders: { format: csv, path: "data/orders/*.csv", incremental: true }
bronze:
  orders: { from: orders }
silver:
  orders:
    from: bronze.orders
    mode: append
    transforms: [ { cast: { id: integer, amount: "decimal(12,2)" } } ]
    expect: [ { check: amount > 0, on_fail: quarantine } ]
gold:
  totals:
    from: silver.orders
    transforms: [ { aggregate: { metrics: { n: "count(*)", total: sum(amount) } } } ]
`

describe("medallion with engine: databricks", () => {
  const project = makeProject({
    "pipelines/shop.yaml": pipeline,
    "data/orders/a.csv": "id,amount\n1,10.50\n2,-1\n3,7\n",
    "config/default.yaml": "engine: databricks\ndatabricks: { catalog: lakehouse, schema_prefix: shop_ }\n",
    "config/databricks.yaml": [
      "engine: databricks",
      "databricks:",
      "  host: ${DATABRICKS_HOST}",
      "  token: ${DATABRICKS_TOKEN}",
      "  warehouse_id: ${DATABRICKS_WAREHOUSE_ID}",
      "  catalog: lakehouse",
      "  schema_prefix: shop_",
      "  wait_timeout: 5s",
      ""
    ].join("\n")
  })
  let standIn: StandIn
  const env = () => ({ DATABRICKS_HOST: standIn.url, DATABRICKS_TOKEN: TOKEN, DATABRICKS_WAREHOUSE_ID: WAREHOUSE })
  beforeAll(async () => {
    standIn = await startStandIn({ catalog: "lakehouse", warehouseId: WAREHOUSE, token: TOKEN })
  })
  afterAll(async () => {
    await standIn.close()
    project.remove()
  })

  it("validates and plans without a connection", async () => {
    const validate = await cli(project.dir, ["validate"])
    assert.strictEqual(validate.code, 0, validate.stderr)
    const plan = await cli(project.dir, ["plan"])
    assert.strictEqual(plan.code, 0, plan.stderr)
    assert.match(plan.stdout, /warehouse databricks \(workspace not configured\) catalog lakehouse \(offline: not connected/)
    assert.match(plan.stdout, /create\s+bronze\.orders\s+append/)
    assert.match(plan.stdout, /3 to create, 0 to rebuild/)
    assert.strictEqual(standIn.log.requests.length, 0)
  }, 60_000)

  it("apply names the settings it is missing", async () => {
    const apply = await cli(project.dir, ["apply"])
    assert.strictEqual(apply.code, 2)
    assert.include(
      apply.stderr,
      "config/default.yaml:1:1: engine: databricks needs databricks.host (or DATABRICKS_HOST); databricks.warehouse_id (or DATABRICKS_WAREHOUSE_ID); databricks.token (or DATABRICKS_TOKEN), or databricks.client_id and client_secret"
    )
  }, 60_000)

  it("applies with --env databricks, then plans against the warehouse and lists the run; the token never shows", async () => {
    const apply = await cli(project.dir, ["apply", "--env", "databricks"], env())
    assert.strictEqual(apply.code, 0, apply.stdout + apply.stderr)
    assert.include(apply.stdout, `engine databricks (${standIn.url} catalog lakehouse)`)
    const gold = await standIn.query(`SELECT n, CAST(total AS VARCHAR) AS total FROM lakehouse.shop_gold.totals`)
    assert.deepStrictEqual(gold, [{ n: "2", total: "17.50" }])
    assert.deepStrictEqual(await standIn.query(`SELECT count(*)::INTEGER AS n FROM lakehouse.shop__medallion.locks`), [{ n: 0 }], "the lock is released")

    const plan = await cli(project.dir, ["plan", "--env", "databricks", "--json"], env())
    assert.strictEqual(plan.code, 0, plan.stderr)
    const planned = JSON.parse(plan.stdout) as { warehouse: string; tables: ReadonlyArray<{ table: string; action: string }> }
    assert.deepStrictEqual(
      planned.tables.map((t) => [t.table, t.action]),
      [
        ["bronze.orders", "skip"],
        ["silver.orders", "skip"],
        ["gold.totals", "skip"]
      ]
    )

    const runs = await cli(project.dir, ["runs", "--env", "databricks", "--json"], env())
    assert.strictEqual(runs.code, 0, runs.stderr)
    const recorded = JSON.parse(runs.stdout) as ReadonlyArray<{ status: string; engine: string }>
    assert.deepStrictEqual(
      recorded.map((r) => [r.engine, r.status]),
      [["databricks", "succeeded"]]
    )
    const show = await cli(project.dir, ["show", "gold.totals", "--env", "databricks", "--json"], env())
    assert.strictEqual(show.code, 0, show.stderr)
    assert.deepStrictEqual(JSON.parse(show.stdout), [{ n: 2, total: 17.5 }])
    const unknown = await cli(project.dir, ["show", "gold.total", "--env", "databricks"], env())
    assert.include(unknown.stderr, "no table gold.total in the warehouse; did you mean gold.totals?")
    for (const output of [apply, plan, runs, show, unknown]) assert.notInclude(output.stdout + output.stderr, TOKEN)
  }, 120_000)

  it("a second apply finds the warehouse locked and says by whom", async () => {
    const expires = Date.now() + 60_000
    await standIn.query(
      `INSERT INTO lakehouse.shop__medallion.locks VALUES ('apply', '{"pid":4242,"host":"etl-7","started_at":"2026-01-01T00:00:00.000Z","command":"medallion apply","nonce":"1"}', ${expires})`
    )
    try {
      const apply = await cli(project.dir, ["apply", "--env", "databricks"], env())
      assert.strictEqual(apply.code, 1)
      assert.include(
        apply.stderr,
        `the warehouse databricks ${standIn.url} catalog lakehouse is in use by pid 4242 on host etl-7 since 2026-01-01T00:00:00.000Z (medallion apply); wait for it to finish, or run with --wait`
      )
    } finally {
      await standIn.query(`DELETE FROM lakehouse.shop__medallion.locks`)
    }
    // An expired lock (its holder crashed) is taken over.
    await standIn.query(
      `INSERT INTO lakehouse.shop__medallion.locks VALUES ('apply', '{"pid":4242,"host":"etl-7","started_at":"2026-01-01T00:00:00.000Z","command":"medallion apply","nonce":"1"}', ${Date.now() - 1})`
    )
    const again = await cli(project.dir, ["apply", "--env", "databricks"], env())
    assert.strictEqual(again.code, 0, again.stderr)
  }, 120_000)

  it("a token the warehouse echoes in an error body shows nowhere: output, --json, log lines, history, spans, exported logs", async () => {
    const collector = await receiver()
    // Statements on silver's tables (not ones that only mention them in a value, as the run's history does)
    // are refused with `Invalid access token Bearer <the token>`.
    standIn.faults.rejectEchoingCredentials(/^[^']*`shop_silver`\.`orders/)
    try {
      const traced = { ...env(), OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }
      const text = await cli(project.dir, ["apply", "--env", "databricks", "--full-refresh"], traced)
      assert.strictEqual(text.code, 1, text.stdout + text.stderr)
      assert.include(text.stdout + text.stderr, "Invalid access token Bearer [redacted]", "the warehouse's message is shown, without the token")
      const logged = await cli(project.dir, ["apply", "--env", "databricks", "--full-refresh", "--log-format", "json"], traced)
      assert.strictEqual(logged.code, 1, logged.stdout + logged.stderr)
      const failed = logged.stderr
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { level: string; message: string })
        .find((l) => l.level === "ERROR" && l.message.startsWith("silver.orders: failed"))
      assert.isDefined(failed, logged.stderr)
      assert.include(failed!.message, "Bearer [redacted]")
      const json = await cli(project.dir, ["apply", "--env", "databricks", "--full-refresh", "--json"], env())
      assert.strictEqual(json.code, 1, json.stdout + json.stderr)
      const report = JSON.parse(json.stdout) as { tables: ReadonlyArray<{ table: string; error: string | null }> }
      assert.include(report.tables.find((t) => t.table === "silver.orders")?.error ?? "", "Bearer [redacted]")
      const runs = await cli(project.dir, ["runs", "--env", "databricks", "--json", "--limit", "3"], env())
      assert.strictEqual(runs.code, 0, runs.stderr)
      const run = await cli(project.dir, ["runs", JSON.parse(runs.stdout)[0].batch_id, "--env", "databricks", "--json"], env())
      assert.include(run.stdout, "Bearer [redacted]", run.stdout + run.stderr)

      for (const output of [text, logged, json, runs, run]) assert.notInclude(output.stdout + output.stderr, TOKEN)
      const spans = collector.spans()
      assert.isTrue(
        spans.some((s) => s.status.code === 2 && (s.status.message ?? "").includes("Bearer [redacted]")),
        "the failed spans say what failed"
      )
      assert.notInclude(JSON.stringify(spans), TOKEN)
      assert.isAbove(collector.logs().length, 0)
      assert.notInclude(JSON.stringify(collector.logs()), TOKEN)
    } finally {
      standIn.faults.clear()
      await collector.close()
    }
  }, 180_000)
})
