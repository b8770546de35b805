/** Statement span names and the literal stripping of db.query.text; and the OTEL_* switch. */
import { assert, describe, it } from "@effect/vitest"
import { sanitizeStatement, statementName } from "../../src/executor/statementSpan.ts"
import { parseKeyValues, tracingConfig } from "../../src/telemetry/Telemetry.ts"

describe("statementName", () => {
  it("names a statement by its leading keyword(s)", () => {
    assert.strictEqual(statementName("SELECT 1"), "SELECT")
    assert.strictEqual(statementName("  insert into t values (1)"), "INSERT")
    assert.strictEqual(statementName("CREATE OR REPLACE TEMP TABLE x AS SELECT 1"), "CREATE TABLE")
    assert.strictEqual(statementName("CREATE SCHEMA IF NOT EXISTS bronze"), "CREATE SCHEMA")
    assert.strictEqual(statementName("DROP VIEW IF EXISTS v"), "DROP VIEW")
    assert.strictEqual(statementName("-- note\n/* block */ ALTER TABLE t RENAME TO u"), "ALTER TABLE")
    assert.strictEqual(statementName("BEGIN TRANSACTION"), "BEGIN")
    assert.strictEqual(statementName(""), "SQL")
  })
})

describe("sanitizeStatement", () => {
  it("replaces string and number literals with ?", () => {
    assert.strictEqual(
      sanitizeStatement("INSERT INTO t VALUES ('a''b', 42, -3.5, 1e10, .5, NULL, true)"),
      "INSERT INTO t VALUES (?, ?, -?, ?, ?, NULL, true)"
    )
    assert.strictEqual(sanitizeStatement("SELECT * FROM read_csv(['/data/x.csv'], header = true)"), "SELECT * FROM read_csv([?], header = true)")
    assert.strictEqual(sanitizeStatement("SELECT E'x\\'' AS a, X'FF' AS b, 0x1F AS c"), "SELECT ? AS a, ? AS b, ? AS c")
  })

  it("keeps identifiers, quoted identifiers and comments", () => {
    assert.strictEqual(sanitizeStatement(`SELECT t1.col_2, "x 9 'y'" FROM t1 -- 'keep'`), `SELECT t1.col_2, "x 9 'y'" FROM t1 -- 'keep'`)
    assert.strictEqual(sanitizeStatement("SELECT a FROM t WHERE id = 7 AND name = 'bob'"), "SELECT a FROM t WHERE id = ? AND name = ?")
  })

  it("survives an unterminated string", () => {
    assert.strictEqual(sanitizeStatement("SELECT 'oops"), "SELECT ?")
  })
})

describe("tracingConfig", () => {
  it("is off unless an endpoint is set, and off when disabled", () => {
    assert.isUndefined(tracingConfig({}, "1"))
    assert.isUndefined(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" }, "1"))
    assert.isUndefined(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" }, "1"))
  })

  it("reads the endpoint, headers and resource", () => {
    const config = tracingConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/",
      OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20abc, x-a=1",
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-a=2",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=prod,team=data"
    }, "0.1.0")
    assert.deepStrictEqual(config, {
      url: "http://c:4318/v1/traces",
      headers: { authorization: "Bearer abc", "x-a": "2" },
      serviceName: "medallion",
      serviceVersion: "0.1.0",
      attributes: { "deployment.environment": "prod", team: "data" }
    })
    assert.strictEqual(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t/x", OTEL_SERVICE_NAME: "etl" }, "1")?.url, "http://t/x")
    assert.strictEqual(tracingConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t/x", OTEL_SERVICE_NAME: "etl" }, "1")?.serviceName, "etl")
    assert.deepStrictEqual(parseKeyValues("a=b=c,,=x,k"), { a: "b=c" })
  })
})
