/**
 * Tracing end to end: the CLI as a child process exports OTLP/HTTP JSON to a real receiver on
 * loopback. The CLI runs asynchronously here (not through the spawnSync `cli` helper), so the
 * receiver in this process can answer while the child is still running.
 */
import { describe, it } from "@effect/vitest"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, beforeAll } from "vitest"
import { bundleIsFresh, repoRoot, type TestProject } from "../support/project.ts"
import { cliAsync, closedPort, receiver, shopProject as project, type Span } from "./receiver.ts"

/** The spans of tables: those that carry medallion.layer (named by the table, e.g. silver.orders). */
const tableSpans = (spans: ReadonlyArray<Span>) => spans.filter((s) => typeof s.attributes["medallion.layer"] === "string")

/** Whether `ancestor` is on the parent chain of `span`. */
const descends = (spans: ReadonlyArray<Span>, span: Span, ancestor: Span): boolean => {
  const byId = new Map(spans.map((s) => [s.spanId, s]))
  for (let p = span.parentSpanId; p !== undefined && p !== ""; p = byId.get(p)?.parentSpanId) {
    if (p === ancestor.spanId) return true
  }
  return false
}

describe("tracing (OTLP/HTTP JSON)", () => {
  let collector: Awaited<ReturnType<typeof receiver>>
  const projects: Array<TestProject> = []
  beforeAll(async () => {
    collector = await receiver()
  })
  afterAll(async () => {
    await collector.close()
    for (const p of projects) p.remove()
  })

  it("exports one apply root span, table spans under it, and statement spans without literals", async () => {
    const p = project("drop")
    projects.push(p)
    collector.reset()
    const result = await cliAsync(p.dir, ["apply"], { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint })
    assert.strictEqual(result.code, 0, result.stderr)
    assert.notInclude(result.stderr, "ExperimentalWarning")
    const spans = collector.spans()
    assert.deepInclude(collector.resources()[0], { "service.name": "medallion", "service.version": "0.1.0" })

    const roots = spans.filter((s) => s.name === "medallion.apply")
    assert.strictEqual(roots.length, 1)
    const root = roots[0]!
    assert.isTrue(root.parentSpanId === undefined || root.parentSpanId === "")
    assert.deepInclude(root.attributes, { "medallion.pipelines": ["shop"], "medallion.engine": "duckdb", "medallion.env": "default", "medallion.status": "succeeded" })
    const batchId = root.attributes["medallion.batch_id"]
    assert.isString(batchId)
    // One trace for the whole command: loading the specs and opening the store are under the root too.
    assert.deepStrictEqual(
      spans.filter((s) => s.parentSpanId === undefined || s.parentSpanId === "").map((s) => s.name),
      ["medallion.apply"]
    )
    assert.isTrue(spans.every((s) => s.traceId === root.traceId))
    assert.isTrue(descends(spans, spans.find((s) => s.name === "spec.load")!, root))
    const run = spans.find((s) => s.name === "medallion.run")!
    assert.deepInclude(run.attributes, { "medallion.batch_id": batchId, "medallion.tables": ["bronze.orders", "silver.orders"] })

    // Each table's span is named by the table, and keeps it as an attribute.
    const tables = tableSpans(spans)
    assert.deepStrictEqual(tables.map((s) => s.name).sort(), ["bronze.orders", "silver.orders"])
    for (const t of tables) assert.strictEqual(t.attributes["medallion.table"], t.name)
    for (const t of tables) assert.isTrue(descends(spans, t, root), `${t.attributes["medallion.table"]} under medallion.apply`)
    const silver = tables.find((s) => s.attributes["medallion.table"] === "silver.orders")!
    assert.deepInclude(silver.attributes, {
      "medallion.layer": "silver",
      "medallion.mode": "replace",
      "medallion.status": "succeeded",
      "medallion.rows_in": 4,
      "medallion.rows_out": 1,
      "medallion.quarantined": 2,
      "medallion.dropped": 1,
      "medallion.duplicates": 0,
      "medallion.rejected": 0,
      "medallion.attempts": 1,
      "medallion.expectation.positive_amount.failed": 3,
      "medallion.expectation.positive_amount.passed": 1
    })
    assert.strictEqual(silver.status.code, 1)

    const statements = spans.filter((s) => s.attributes["db.system.name"] === "duckdb")
    const underTables = statements.filter((s) => tables.some((t) => descends(spans, s, t)))
    assert.isAbove(underTables.length, 3)
    // Statement spans are named by their query summary, {operation} {target}, after the database semantic conventions.
    const operations = new Set(underTables.map((s) => s.attributes["db.operation.name"]))
    for (const operation of ["CREATE TABLE", "SELECT", "INSERT", "BEGIN", "COMMIT"]) assert.isTrue(operations.has(operation), `a ${operation} span`)
    const names = new Set(statements.map((s) => s.name))
    for (const name of ["SELECT _medallion.meta", "CREATE TABLE silver.orders__next", "INSERT _medallion.run_tables", "DROP TABLE silver.orders", "BEGIN", "COMMIT"]) {
      assert.isTrue(names.has(name), `a span named ${name}; got ${[...names].join(", ")}`)
    }
    for (const s of statements) {
      assert.strictEqual(s.name, s.attributes["db.query.summary"])
      assert.isTrue(s.name === s.attributes["db.operation.name"] || s.name.startsWith(`${s.attributes["db.operation.name"]} `), s.name)
    }
    const create = statements.find((s) => s.name === "CREATE TABLE silver.orders__next")!
    assert.deepInclude(create.attributes, { "db.operation.name": "CREATE TABLE", "db.collection.name": "silver.orders__next" })
    for (const s of statements) {
      const text = s.attributes["db.query.text"]
      assert.isString(text)
      assert.notInclude(text as string, String(batchId))
      assert.notInclude(text as string, "data/orders")
      assert.notInclude(text as string, "bronze.orders'")
    }
    const inserts = underTables.filter((s) => s.attributes["db.operation.name"] === "INSERT")
    assert.isTrue(inserts.some((s) => typeof s.attributes["db.response.affected_rows"] === "number"))
    assert.isTrue(underTables.some((s) => s.attributes["db.operation.name"] === "SELECT" && typeof s.attributes["db.response.returned_rows"] === "number"))

    // A first apply on a new warehouse: the probe of _medallion.meta fails, as expected, and is no error.
    assert.deepStrictEqual(
      spans.filter((s) => s.status.code === 2).map((s) => `${s.name}: ${s.status.message ?? ""}`),
      []
    )
    const probe = spans.find((s) => s.name === "SELECT _medallion.meta")!
    assert.strictEqual(probe.attributes["medallion.expected_failure"], true)
  }, 60_000)

  it("exports a failed table's span with status ERROR", async () => {
    const p = project("fail")
    projects.push(p)
    collector.reset()
    const result = await cliAsync(p.dir, ["apply"], { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint })
    assert.strictEqual(result.code, 1, result.stdout + result.stderr)
    const tables = tableSpans(collector.spans())
    const silver = tables.find((s) => s.name === "silver.orders")
    assert.isDefined(silver)
    assert.strictEqual(silver!.status.code, 2)
    assert.strictEqual(silver!.attributes["medallion.status"], "failed")
    assert.include(silver!.status.message ?? "", "positive_amount")
    assert.strictEqual(tables.find((s) => s.name === "bronze.orders")?.status.code, 1)
    assert.strictEqual(collector.spans().filter((s) => s.name === "medallion.apply").length, 1)
  }, 60_000)

  // How long the exit waits for a collector that is down is measured in bench/startup.ts, not here.
  it("an unreachable collector fails nothing: the run succeeds and the process exits", async () => {
    const traced = project("drop")
    projects.push(traced)
    const port = await closedPort()
    const result = await cliAsync(traced.dir, ["apply"], { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` })
    assert.strictEqual(result.code, 0, result.stderr)
    assert.match(result.stdout, /run succeeded/)
  }, 60_000)

  it("honours OTEL_TRACES_SAMPLER: always_off exports no spans, and the run succeeds", async () => {
    const p = project("drop")
    projects.push(p)
    collector.reset()
    const result = await cliAsync(p.dir, ["apply"], { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_TRACES_SAMPLER: "always_off" })
    assert.strictEqual(result.code, 0, result.stderr)
    assert.deepStrictEqual(collector.spans(), [])
    assert.isAbove(collector.metrics().length, 0, "metrics are not sampled")
  }, 60_000)

  it("telemetry: { traces: off } in config wins over the OTEL endpoint", async () => {
    const p = project("drop")
    projects.push(p)
    p.write("config/default.yaml", "telemetry: { traces: off }\n")
    collector.reset()
    const result = await cliAsync(p.dir, ["apply"], { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint })
    assert.strictEqual(result.code, 0, result.stderr)
    assert.deepStrictEqual([collector.spans().length, collector.metrics().length, collector.logs().length, collector.protobuf().length], [0, 0, 0, 0])
  }, 60_000)

  // The installed CLI runs the bundle in dist/ (built by npm ci); the SDK stays outside it.
  it.skipIf("Deno" in globalThis)(
    "the bundled CLI exports the same trace",
    async () => {
      const bundle = join(repoRoot, "dist", "medallion.cjs")
      assert.isTrue(existsSync(bundle), "dist/medallion.cjs is missing: run npm run build")
      assert.isTrue(bundleIsFresh(), "dist/ is older than src/, so bin/medallion.js would run the sources: run npm run build")
      const p = project("drop")
      projects.push(p)
      collector.reset()
      const result = await cliAsync(p.dir, ["apply"], { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint }, join(repoRoot, "bin", "medallion.js"))
      assert.strictEqual(result.code, 0, result.stderr)
      // Loading the SDK's metric exporter on demand printed Node's ExperimentalWarning (vm.USE_MAIN_CONTEXT_DEFAULT_LOADER).
      assert.notInclude(result.stderr, "ExperimentalWarning")
      assert.notInclude(result.stderr, "Warning:")
      const spans = collector.spans()
      const root = spans.find((s) => s.name === "medallion.apply")!
      assert.isDefined(root)
      const tables = tableSpans(spans)
      assert.deepStrictEqual(tables.map((s) => s.name).sort(), ["bronze.orders", "silver.orders"])
      assert.deepStrictEqual(
        spans.filter((s) => s.status.code === 2).map((s) => s.name),
        [],
        "no error span on a first apply"
      )
      for (const t of tables) assert.isTrue(descends(spans, t, root))
      assert.isAbove(collector.metrics().length, 0)
    },
    60_000
  )

  it("speaks the SDK's default protocol, http/protobuf, when none is set", async () => {
    const p = project("drop")
    projects.push(p)
    collector.reset()
    const result = await cliAsync(p.dir, ["apply"], { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "" })
    assert.strictEqual(result.code, 0, result.stderr)
    assert.includeMembers(collector.protobuf(), ["/v1/traces", "/v1/metrics", "/v1/logs"])
  }, 60_000)
})

describe("logs correlated with traces", () => {
  let collector: Awaited<ReturnType<typeof receiver>>
  const projects: Array<TestProject> = []
  beforeAll(async () => {
    collector = await receiver()
  })
  afterAll(async () => {
    await collector.close()
    for (const p of projects) p.remove()
  })

  it("--log-format json writes one JSON line per log with the trace and span ids, and OTLP carries the same records", async () => {
    const p = project("fail")
    projects.push(p)
    const result = await cliAsync(p.dir, ["apply", "--log-format", "json"], { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint })
    assert.strictEqual(result.code, 1, result.stdout + result.stderr)
    const lines = result.stderr
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l))
    const failed = lines.find((l) => l.level === "ERROR" && String(l.message).startsWith("silver.orders: failed"))
    assert.isDefined(failed, result.stderr)
    assert.include(failed.message, "positive_amount")
    const bronze = lines.find((l) => l.level === "INFO" && String(l.message).startsWith("bronze.orders: succeeded"))
    assert.isDefined(bronze, result.stderr)

    const spans = collector.spans()
    const silverSpan = spans.find((s) => s.name === "silver.orders")!
    assert.strictEqual(failed.trace_id, silverSpan.traceId)
    assert.strictEqual(failed.span_id, silverSpan.spanId)

    const exported = collector.logs().find((l) => String(l.body).startsWith("silver.orders: failed"))
    assert.isDefined(exported)
    assert.strictEqual(exported!.severityNumber, 17) // SeverityNumber.ERROR
    assert.strictEqual(exported!.traceId, silverSpan.traceId)
    assert.strictEqual(exported!.spanId, silverSpan.spanId)
  }, 60_000)

  it("text mode keeps info lines off the console and stdout free of logs", async () => {
    const p = project("drop")
    projects.push(p)
    const result = await cliAsync(p.dir, ["apply", "--json"])
    assert.strictEqual(result.code, 0, result.stderr)
    JSON.parse(result.stdout)
    assert.notInclude(result.stderr, "succeeded")
  }, 60_000)
})
