/** Statement span names and the literal stripping of db.query.text; and the OTEL_* switch. */
import { assert, describe, it } from "@effect/vitest"
import { sanitizeStatement, statementName } from "../../src/executor/statementSpan.ts"
import { isEnabled, parseKeyValues, serviceName } from "../../src/telemetry/Telemetry.ts"

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

describe("telemetry switch", () => {
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }
  it("auto: on when any OTLP endpoint variable is set", () => {
    assert.isFalse(isEnabled("auto", {}))
    assert.isFalse(isEnabled("auto", { OTEL_EXPORTER_OTLP_ENDPOINT: "  " }))
    assert.isTrue(isEnabled("auto", endpoint))
    for (const signal of ["TRACES", "METRICS", "LOGS"]) assert.isTrue(isEnabled("auto", { [`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`]: "http://c:4318/x" }))
  })

  it("otlp: always on; off and OTEL_SDK_DISABLED win over everything", () => {
    assert.isTrue(isEnabled("otlp", {}))
    assert.isFalse(isEnabled("off", endpoint))
    assert.isFalse(isEnabled("auto", { ...endpoint, OTEL_SDK_DISABLED: "TRUE" }))
    assert.isFalse(isEnabled("otlp", { OTEL_SDK_DISABLED: "true" }))
  })

  it("names the service from OTEL_SERVICE_NAME, then OTEL_RESOURCE_ATTRIBUTES, then medallion", () => {
    assert.strictEqual(serviceName({}), "medallion")
    assert.strictEqual(serviceName({ OTEL_RESOURCE_ATTRIBUTES: "team=data,service.name=etl%20prod" }), "etl prod")
    assert.strictEqual(serviceName({ OTEL_SERVICE_NAME: "nightly", OTEL_RESOURCE_ATTRIBUTES: "service.name=etl" }), "nightly")
    assert.deepStrictEqual(parseKeyValues("a=b=c,,=x,k"), { a: "b=c" })
  })
})
