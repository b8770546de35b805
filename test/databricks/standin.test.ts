/**
 * The stand-in itself (test/support/databricks): that it keeps the documented Statement Execution
 * API contract the executor relies on, and that its Spark-to-DuckDB rewrites are the ones listed.
 * Talks plain HTTP with fetch, so it checks the server, not the executor.
 */
import { afterAll, beforeAll, describe, it } from "vitest"
import { assert } from "@effect/vitest"
import { expandGlob, rewrite } from "../support/databricks/rewrite.ts"
import { type StandIn, startStandIn } from "../support/databricks/server.ts"

const TOKEN = "dapi-contract"

/** What the stand-in answers, loosely: statement responses, chunks and error bodies. */
interface Body {
  readonly statement_id?: string
  readonly status?: { readonly state: string; readonly error?: { readonly error_code: string }; readonly sql_state?: string }
  readonly manifest?: { readonly schema: { readonly columns: ReadonlyArray<{ readonly name: string; readonly type_name: string }> }; readonly total_row_count: number }
  readonly result?: { readonly data_array?: unknown; readonly next_chunk_internal_link?: string }
  readonly data_array?: unknown
  readonly next_chunk_internal_link?: string
  readonly error_code?: string
}

describe("stand-in: Spark SQL to DuckDB rewrites", () => {
  it("quotes, strings, EXCEPT, USING DELTA, ARRAY<T> and function names", () => {
    assert.strictEqual(rewrite("SELECT `a``b`, 'it\\'s', \"x\\\\y\" FROM t"), `SELECT "a\`b", 'it''s', 'x\\y' FROM t`)
    assert.strictEqual(rewrite("SELECT l.* EXCEPT (`x`) FROM t l"), `SELECT l.* EXCLUDE ("x") FROM t l`)
    assert.strictEqual(rewrite("CREATE OR REPLACE TABLE `c`.`s`.`t` USING DELTA AS SELECT 1"), `CREATE OR REPLACE TABLE "c"."s"."t" AS SELECT 1`)
    assert.strictEqual(
      rewrite("SELECT CAST(array() AS ARRAY<STRING>), transform(a, e -> e), explode(b)"),
      "SELECT CAST(list_value() AS VARCHAR[]), list_transform(a, e -> e), unnest(b)"
    )
    assert.strictEqual(rewrite("SELECT *, struct( * ) AS `row` FROM t"), `SELECT *, struct_pack(*COLUMNS(*)) AS "row" FROM t`)
  })

  it("information_schema per catalog, DESCRIBE QUERY, RENAME TO and INSERT OVERWRITE DIRECTORY", () => {
    assert.strictEqual(
      rewrite("SELECT column_name, full_data_type FROM `c`.information_schema.columns WHERE table_schema = 's'"),
      "SELECT column_name, data_type FROM (SELECT * FROM information_schema.columns WHERE table_catalog = 'c') AS columns WHERE table_schema = 's'"
    )
    assert.strictEqual(
      rewrite("DESCRIBE QUERY SELECT `a` FROM t"),
      `SELECT column_name AS col_name, column_type AS data_type, CAST(NULL AS VARCHAR) AS comment FROM (DESCRIBE SELECT "a" FROM t)`
    )
    assert.strictEqual(rewrite("ALTER TABLE `c`.`s`.`a__next` RENAME TO `c`.`s`.`a`"), `ALTER TABLE "c"."s"."a__next" RENAME TO "a"`)
    assert.strictEqual(
      rewrite("INSERT OVERWRITE DIRECTORY '/x/out' USING CSV OPTIONS ('header' = 'true') SELECT * FROM `t`"),
      `COPY (SELECT * FROM "t") TO '/x/out/part-00000.csv' (FORMAT csv, HEADER true)`
    )
  })

  it("read_files with _metadata.file_path, and named parameters", () => {
    assert.strictEqual(
      rewrite(
        "SELECT *, _metadata.file_path AS `_source_file` FROM read_files('/d/{a.csv,b\\\\{1\\\\}.csv}', format => 'csv', header => true, sep => ';', inferColumnTypes => false, mode => 'DROPMALFORMED')"
      ),
      "SELECT * FROM read_csv(['/d/a.csv', '/d/b{1}.csv'], header = true, delim = ';', all_varchar = true, ignore_errors = true, filename = '_source_file')"
    )
    assert.deepStrictEqual(expandGlob("/v/{x/a.json,y/b.json}"), ["/v/x/a.json", "/v/y/b.json"])
    assert.strictEqual(
      rewrite("SELECT :a, :b, x::INT, ':c'", [
        { name: "a", value: "o'k" },
        { name: "b", type: "INT" }
      ]),
      "SELECT CAST('o''k' AS VARCHAR), CAST(NULL AS INT), x::INT, ':c'"
    )
    assert.throws(() => rewrite("SELECT :missing"), /no value for parameter :missing/)
  })
})

describe("stand-in: the Statement Execution API contract", () => {
  let s: StandIn
  beforeAll(async () => {
    s = await startStandIn({ catalog: "lakehouse", warehouseId: "w1", token: TOKEN, clients: { app: "secret" }, rowsPerChunk: 2 })
  })
  afterAll(() => s.close())
  const api = (path: string, init: { method?: string; body?: unknown; token?: string } = {}) =>
    fetch(`${s.url}${path}`, {
      method: init.method ?? "GET",
      headers: { authorization: `Bearer ${init.token ?? TOKEN}`, "content-type": "application/json" },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) })
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Body, retryAfter: r.headers.get("retry-after") }))
  const submit = (statement: string, extra: Record<string, unknown> = {}) => api("/api/2.0/sql/statements", { method: "POST", body: { statement, warehouse_id: "w1", ...extra } })

  it("answers a quick statement with its manifest and first chunk, linking the next", async () => {
    const r = await submit("SELECT * FROM (VALUES (1, 'a'), (2, NULL), (3, 'c')) AS t(n, s) ORDER BY n", { wait_timeout: "5s" })
    assert.strictEqual(r.status, 200)
    assert.strictEqual(r.body.status!.state, "SUCCEEDED")
    assert.deepStrictEqual(
      r.body.manifest!.schema.columns.map((c) => [c.name, c.type_name]),
      [
        ["n", "INT"],
        ["s", "STRING"]
      ]
    )
    assert.strictEqual(r.body.manifest!.total_row_count, 3)
    assert.deepStrictEqual(r.body.result!.data_array, [
      ["1", "a"],
      ["2", null]
    ])
    const next = await api(r.body.result!.next_chunk_internal_link!)
    assert.deepStrictEqual(next.body.data_array, [["3", "c"]])
    assert.isUndefined(next.body.next_chunk_internal_link)
  })

  it("continues asynchronously (PENDING or RUNNING), and on_wait_timeout CANCEL cancels", async () => {
    s.faults.slow("slow_one", 6_000, 2)
    const r = await submit("SELECT 'slow_one' AS x", { wait_timeout: "0s" })
    assert.include(["PENDING", "RUNNING"], r.body.status!.state)
    const cancelled = await api(`/api/2.0/sql/statements/${r.body.statement_id}/cancel`, { method: "POST" })
    assert.deepStrictEqual(cancelled.body, {})
    assert.strictEqual((await api(`/api/2.0/sql/statements/${r.body.statement_id}`)).body.status!.state, "CANCELED")
    const c = await submit("SELECT 'slow_one' AS x", { wait_timeout: "5s", on_wait_timeout: "CANCEL" })
    assert.strictEqual(c.body.status!.state, "CANCELED")
  }, 20_000)

  it("reports execution failures as HTTP 200 with state FAILED, and rejects bad requests with an error body", async () => {
    const failed = await submit("SELECT * FROM nowhere", { wait_timeout: "5s" })
    assert.strictEqual(failed.status, 200)
    assert.strictEqual(failed.body.status!.state, "FAILED")
    assert.strictEqual(failed.body.status!.error!.error_code, "BAD_REQUEST")
    assert.strictEqual(failed.body.status!.sql_state, "42P01")
    assert.deepStrictEqual((await submit("SELECT 1", { wait_timeout: "3s" })).status, 400)
    assert.strictEqual((await api("/api/2.0/sql/statements/nope")).status, 404)
    assert.strictEqual((await api("/api/2.0/sql/statements", { method: "POST", body: { statement: "SELECT 1", warehouse_id: "other" } })).status, 404)
    assert.strictEqual((await api("/api/2.0/sql/statements/nope", { token: "wrong" })).status, 401)
  })

  it("injects 429 with Retry-After and 503, then recovers", async () => {
    s.faults.rateLimit(1, 7)
    s.faults.unavailable(1)
    const limited = await submit("SELECT 1")
    assert.deepStrictEqual([limited.status, limited.retryAfter, limited.body.error_code], [429, "7", "REQUEST_LIMIT_EXCEEDED"])
    const unavailable = await submit("SELECT 1")
    assert.deepStrictEqual([unavailable.status, unavailable.body.error_code], [503, "TEMPORARILY_UNAVAILABLE"])
    assert.strictEqual((await submit("SELECT 1")).status, 200)
  })

  it("issues OAuth tokens for client credentials, and expires them on demand", async () => {
    const token = await fetch(`${s.url}/oidc/v1/token`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from("app:secret").toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials&scope=all-apis"
    }).then((r) => r.json() as Promise<{ access_token: string; expires_in: number }>)
    assert.strictEqual(token.expires_in, 3600)
    assert.strictEqual((await submit("SELECT 1", {}).then(() => api("/api/2.0/sql/statements/x", { token: token.access_token }))).status, 404)
    s.faults.expireTokens()
    assert.strictEqual((await api("/api/2.0/sql/statements/x", { token: token.access_token })).status, 401)
    assert.strictEqual((await api("/api/2.0/sql/statements/x")).status, 401)
    s.faults.clear()
    const wrong = await fetch(`${s.url}/oidc/v1/token`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from("app:nope").toString("base64")}` },
      body: "grant_type=client_credentials"
    })
    assert.strictEqual(wrong.status, 401)
  })
})
