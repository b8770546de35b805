/** Statement span names (query summaries) and the literal stripping of db.query.text; and the OTEL_* switch. */
import { assert, describe, it } from "@effect/vitest"
import { describeStatement, sanitizeStatement, statementName } from "../../src/executor/statementSpan.ts"
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

describe("describeStatement", () => {
  const summary = (sql: string) => describeStatement(sql).summary

  it("names a statement {operation} {target}, the table it acts on, as written without needless quotes", () => {
    assert.deepStrictEqual(describeStatement(`SELECT version FROM "_medallion"."meta"`), {
      operation: "SELECT",
      targets: ["_medallion.meta"],
      collection: "_medallion.meta",
      summary: "SELECT _medallion.meta"
    })
    assert.deepStrictEqual(describeStatement(`CREATE OR REPLACE TABLE "silver"."orders__next" AS SELECT * FROM "bronze"."orders"`), {
      operation: "CREATE TABLE",
      targets: ["silver.orders__next"],
      collection: "silver.orders__next",
      summary: "CREATE TABLE silver.orders__next"
    })
    assert.strictEqual(summary(`INSERT INTO "_medallion"."runs" VALUES ('x', 1)`), "INSERT _medallion.runs")
    assert.strictEqual(summary(`DELETE FROM "_medallion"."table_state" WHERE table_id = 'silver.orders'`), "DELETE _medallion.table_state")
    assert.strictEqual(summary(`UPDATE "_medallion"."runs" SET status = 'crashed'`), "UPDATE _medallion.runs")
    assert.strictEqual(summary(`MERGE INTO "silver"."orders" t USING (SELECT 1) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET *`), "MERGE silver.orders")
    assert.strictEqual(summary(`DROP TABLE IF EXISTS temp."__stage_bronze_orders"`), "DROP TABLE temp.__stage_bronze_orders")
    assert.strictEqual(summary(`ALTER TABLE "bronze"."orders__next" RENAME TO "orders"`), "ALTER TABLE bronze.orders__next")
    assert.strictEqual(summary("INSERT OVERWRITE TABLE `lakehouse`.`shop_gold`.`totals` SELECT 1"), "INSERT lakehouse.shop_gold.totals")
    assert.strictEqual(summary(`SELECT * FROM "song list"`), `SELECT "song list"`)
  })

  it("names schema statements by the schema, without a collection", () => {
    assert.deepStrictEqual(describeStatement(`CREATE SCHEMA IF NOT EXISTS "bronze"`), {
      operation: "CREATE SCHEMA",
      targets: ["bronze"],
      collection: undefined,
      summary: "CREATE SCHEMA bronze"
    })
  })

  it("leaves out what is not a table: subqueries, CTEs, table functions, literals", () => {
    assert.strictEqual(summary("SELECT * FROM (SELECT * FROM orders) t"), "SELECT")
    assert.strictEqual(summary("WITH step_0 AS (SELECT * FROM bronze.orders), step_1 AS (SELECT * FROM step_0) SELECT * FROM step_1"), "SELECT")
    assert.strictEqual(summary("SELECT * FROM read_csv(['/data/secret/x.csv'], header = true)"), "SELECT")
    assert.strictEqual(summary("SELECT sum(a.range) FROM range(4) a, range(2) b"), "SELECT")
    assert.strictEqual(summary("COPY (SELECT * FROM gold.x) TO '/exports/x.parquet'"), "COPY")
    assert.strictEqual(summary("SELECT 'FROM secret' AS a"), "SELECT")
  })

  it("never takes words inside a string for names, with each engine's escapes", () => {
    assert.strictEqual(summary("SELECT * FROM t WHERE a = E'x\\' FROM secret_table'"), "SELECT t")
    assert.strictEqual(describeStatement("SELECT * FROM `t` WHERE a = 'x\\' FROM secret_table' OR b = \"FROM other\"", "spark").summary, "SELECT t")
  })

  it("lists every table a query reads at its top level", () => {
    const joined = describeStatement("SELECT * FROM songs s JOIN artists a ON s.artist_id = a.id, albums WHERE x IN (SELECT y FROM other)")
    assert.deepStrictEqual(joined.targets, ["songs", "artists", "albums"])
    assert.strictEqual(joined.summary, "SELECT songs artists albums")
    assert.isUndefined(joined.collection, "no single collection")
  })

  it("names statements without a target by their operation", () => {
    assert.strictEqual(summary("BEGIN TRANSACTION"), "BEGIN")
    assert.strictEqual(summary("COMMIT"), "COMMIT")
    assert.strictEqual(summary("-- note\nSET threads = 2"), "SET")
    assert.strictEqual(summary(""), "SQL")
    assert.isAtMost(summary(`SELECT * FROM ${Array.from({ length: 100 }, (_, i) => `table_number_${i}`).join(", ")}`).length, 255)
  })
})

describe("sanitizeStatement", () => {
  it("replaces string and number literals with ?", () => {
    assert.strictEqual(sanitizeStatement("INSERT INTO t VALUES ('a''b', 42, -3.5, 1e10, .5, NULL, true)"), "INSERT INTO t VALUES (?, ?, -?, ?, ?, NULL, true)")
    assert.strictEqual(sanitizeStatement("SELECT * FROM read_csv(['/data/x.csv'], header = true)"), "SELECT * FROM read_csv([?], header = true)")
    assert.strictEqual(sanitizeStatement("SELECT E'x\\'' AS a, X'FF' AS b, 0x1F AS c"), "SELECT ? AS a, ? AS b, ? AS c")
  })

  it("keeps identifiers, quoted identifiers and comments", () => {
    assert.strictEqual(sanitizeStatement(`SELECT t1.col_2, "x 9 'y'" FROM t1 -- 'keep'`), `SELECT t1.col_2, "x 9 'y'" FROM t1 -- 'keep'`)
    assert.strictEqual(sanitizeStatement("SELECT a FROM t WHERE id = 7 AND name = 'bob'"), "SELECT a FROM t WHERE id = ? AND name = ?")
  })

  it("knows Spark's strings: backslash escapes, and double quotes", () => {
    assert.strictEqual(sanitizeStatement("SELECT 'it\\'s a secret', \"also\\\" secret\" AS `it's`", "spark"), "SELECT ?, ? AS `it's`")
    assert.strictEqual(sanitizeStatement("SELECT \"col\" FROM t WHERE a = 'x\\'", "duckdb"), 'SELECT "col" FROM t WHERE a = ?')
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
