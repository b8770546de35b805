/**
 * Hostile input: hundreds of crafted table names, column names, order_by values, operators, filter
 * values and paging parameters (quotes, comments, unions, path traversal, huge numbers, unicode).
 * Each must get a 4xx problem, never a 500, and never data from another table; text filters that
 * look like SQL must match nothing rather than run.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import type { TestProject } from "../support/project.ts"
import { buildWarehouse, type RunningServer, secret, shopPlan, shopProject, startServer } from "./support.ts"

const injections = [
  "'",
  '"',
  "`",
  ";",
  "--",
  "/*",
  "*/",
  "' OR '1'='1",
  '" OR "1"="1',
  "1 OR 1=1",
  "1; DROP TABLE gold.revenue",
  "') OR ('1'='1",
  " UNION SELECT note FROM silver.notes",
  "' UNION SELECT * FROM silver.notes --",
  "1) UNION ALL SELECT NULL,NULL--",
  "(SELECT note FROM silver.notes)",
  "$1",
  "?",
  ":name",
  "\\",
  "%",
  "%%",
  "_",
  "\u0000",
  "\n",
  "\r\n",
  "\t",
  "../",
  "..\\",
  "../../etc/passwd",
  "..%2F..%2Fetc%2Fpasswd",
  "silver.notes",
  "_medallion.runs",
  "information_schema.tables",
  "main.gold.revenue",
  "read_csv('data/notes.csv')",
  "pragma_version()",
  "💥",
  "ｒｅｖｅｎｕｅ",
  "ﬁ",
  "é",
  "\u202e",
  "\uFEFF",
  "𝕣𝕖𝕧𝕖𝕟𝕦𝕖",
  "a".repeat(600),
  "9".repeat(400)
]

const tableNames = [
  ...injections.map((i) => `revenue${i}`),
  ...injections,
  "notes",
  "orders__quarantine",
  "total",
  "REVENUE",
  "Revenue",
  " revenue",
  "revenue ",
  '"revenue"',
  "gold.revenue",
  "gold/revenue",
  // ("." and ".." are left out: URL parsing removes dot segments before a request is sent.)
  "runs",
  "_medallion",
  "information_schema",
  "pg_catalog",
  "duckdb_tables()",
  "...",
  "%2e%2e",
  "revenue%00",
  "revenue;",
  "revenue--"
]

const columnNames = [
  ...injections.map((i) => `country${i}`),
  ...injections.filter((i) => i.trim() !== "" && i !== "%"),
  "id",
  "note",
  "amount",
  "COUNTRY",
  "Country",
  "country[eq",
  "country]",
  "country[eq][gt]",
  "country[]",
  "[eq]",
  "revenue[gte) OR 1=1--]",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "revenue.desc",
  "silver.notes.note",
  "gold.revenue.country"
]

const orderBys = [
  ...injections.filter((i) => i !== ""),
  ...injections.map((i) => `revenue${i}`),
  "1",
  "2 desc",
  "revenue desc",
  "revenue.descending",
  "revenue.desc.asc",
  "-",
  "--revenue",
  ",",
  "revenue,,country",
  "revenue,revenue",
  "note",
  "random()",
  "country COLLATE nocase",
  "day,country,revenue,orders,day",
  Array.from({ length: 9 }, () => "revenue").join(","),
  "(SELECT 1)",
  "CASE WHEN 1=1 THEN revenue END",
  "revenue NULLS FIRST",
  "*",
  "ALL"
]

/** Values that are not valid for the typed columns of gold.revenue: day DATE, revenue DECIMAL, orders BIGINT. */
const typedValues: ReadonlyArray<readonly [string, string]> = [
  ...[
    "1 OR 1=1",
    "1;DROP TABLE x",
    "'1'",
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "-Infinity",
    "0x10",
    "1_000",
    "",
    " 1",
    "1 ",
    "9".repeat(400),
    "1,2",
    "١٢٣",
    "１２３",
    "1e",
    ".",
    "-",
    "+",
    "--1",
    "1/*x*/",
    "$1"
  ].map((v) => ["revenue[gte]", v] as const),
  ...["9223372036854775808", "-9223372036854775809", "99999999999999999999999999999999999999999", "1.5", "1e3", "1 OR 1=1", "' OR ''='", "0x1F", "true"].map(
    (v) => ["orders", v] as const
  ),
  ...[
    "2024-13-01",
    "2024-02-30",
    "0000-01-01",
    "2024-01-01' OR '1'='1",
    "now()",
    "2024-01-01T00:00:00",
    "24-01-01",
    "2024/01/01",
    "2024-1-1",
    "99999-01-01",
    "2024-01-01; DROP TABLE gold.revenue",
    "CURRENT_DATE",
    "2024-01-０1"
  ].map((v) => ["day", v] as const),
  ...([
    ["revenue[in]", "1,2,x"],
    ["revenue[in]", Array.from({ length: 101 }, (_, i) => String(i)).join(",")],
    ["revenue[is_null]", "maybe"],
    ["revenue[is_null]", "1"],
    ["revenue[between]", "1"],
    ["revenue[like]", "%"],
    ["country[regexp]", ".*"],
    ["country[is_null]", "' OR 1=1"],
    ["country[in]", Array.from({ length: 101 }, () => "US").join(",")],
    ["country", "x".repeat(1001)]
  ] as const)
]

const paging = [
  "limit=1e3",
  "limit=-5",
  "limit=99999999999999999999",
  "limit=",
  "limit=1;",
  "limit=1%20OR%201=1",
  "limit=0x10",
  "limit=1.5",
  "limit=%F0%9F%92%A5",
  "offset=-1",
  "offset=1e99",
  "offset=999999999999",
  "offset=abc",
  "cursor=garbage",
  `cursor=${"A".repeat(3000)}`,
  "cursor=%27%20OR%201=1",
  `cursor=${Buffer.from(JSON.stringify({ v: 1, table: "notes", offset: 0, query: "[[],[]]", version: "" })).toString("base64url")}`,
  `cursor=${Buffer.from(JSON.stringify({ v: 1, table: "revenue", offset: -10, query: "[[],[]]", version: "" })).toString("base64url")}`,
  `cursor=${Buffer.from(JSON.stringify({ v: 1, table: "revenue", offset: 1e12, query: "[[],[]]", version: "" })).toString("base64url")}`,
  `cursor=${Buffer.from('{"v":1,"table":"revenue"').toString("base64url")}`,
  "limit=5&offset=1&cursor=abc",
  `order_by=${"x".repeat(2000)}`
]

/** Text values that look like SQL: bound as parameters, they simply match no row. */
const textInjections = [
  "US' OR '1'='1",
  "' UNION SELECT note FROM silver.notes --",
  "%' OR 1=1 --",
  '"; DROP TABLE gold.revenue; --',
  "US\u0000",
  "US' --",
  "') OR 1=1 UNION SELECT note, NULL, NULL, NULL FROM silver.notes --",
  "💥",
  "../../etc/passwd"
]

describe("hostile input", () => {
  let project: TestProject
  let server: RunningServer

  beforeAll(async () => {
    project = shopProject()
    const plan = shopPlan()
    await buildWarehouse(project, plan)
    server = await startServer(project, plan)
  })
  afterAll(async () => {
    await server?.close()
    project?.remove()
  })

  const requests = [
    ...tableNames.map((t) => `/gold/${encodeURIComponent(t)}`),
    ...columnNames.map((c) => `/gold/revenue?${encodeURIComponent(c)}=US`),
    ...orderBys.map((o) => `/gold/revenue?order_by=${encodeURIComponent(o)}`),
    ...typedValues.map(([k, v]) => `/gold/revenue?${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
    ...paging.map((p) => `/gold/revenue?${p}`),
    ...injections.map((i) => `/pipelines/${encodeURIComponent(i)}`),
    ...injections.map((i) => `/runs/${encodeURIComponent(i)}`),
    ...injections.slice(0, 20).map((i) => `/runs?pipeline=${encodeURIComponent(i)}`),
    ...injections.slice(0, 20).map((i) => `/runs?status=${encodeURIComponent(i)}`),
    ...injections.slice(0, 10).map((i) => `/runs?before=${encodeURIComponent(i)}`),
    `/gold/revenue?${"x".repeat(9000)}=1`
  ]

  it(`answers ${requests.length} crafted requests with a 4xx problem, no 500 and no other table's data`, async () => {
    assert.isAtLeast(requests.length, 200)
    const failures: Array<string> = []
    const statuses = new Map<number, number>()
    for (let i = 0; i < requests.length; i += 8) {
      await Promise.all(
        requests.slice(i, i + 8).map(async (path) => {
          const r = await server.get(path)
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
          const contentType = r.headers.get("content-type") ?? ""
          if (r.status < 400 || r.status >= 500) failures.push(`${r.status} ${path.slice(0, 120)}: ${r.text.slice(0, 200)}`)
          else if (contentType !== "application/problem+json") failures.push(`${r.status} ${path.slice(0, 120)}: content-type ${contentType}`)
          else if (!String(r.body?.type ?? "").startsWith("urn:medallion:problem:")) failures.push(`${r.status} ${path.slice(0, 120)}: type ${r.body?.type}`)
          if (r.text.includes(secret)) failures.push(`${path.slice(0, 120)}: leaked silver data`)
          if (r.body !== undefined && "rows" in r.body) failures.push(`${path.slice(0, 120)}: returned rows`)
        })
      )
    }
    assert.deepStrictEqual(failures, [])
    assert.isFalse(statuses.has(500))
    // Several kinds of refusal, not one catch-all.
    assert.isTrue(statuses.has(400) && statuses.has(404) && statuses.has(414), JSON.stringify([...statuses]))
  }, 120_000)

  it("resolves unencoded paths that the client or router normalizes to the same table at most", async () => {
    // `;` ends a path segment for the router, and fetch drops tabs and turns \ into /: these may
    // reach gold.revenue itself, but never another table.
    for (const t of tableNames.slice(0, 40)) {
      const r = await server.get(`/gold/${t.replace(/[#?%]/g, "")}`)
      assert.isBelow(r.status, 500, t)
      assert.notInclude(r.text, secret, t)
      if (r.status === 200 && r.body !== undefined && "rows" in r.body) assert.strictEqual(r.body.table, "revenue", t)
    }
  })

  it("binds text filters that look like SQL: they match no row and run nothing", async () => {
    for (const value of textInjections) {
      const r = await server.get(`/gold/revenue?country=${encodeURIComponent(value)}`)
      assert.strictEqual(r.status, 200, `${value}: ${r.text}`)
      assert.deepStrictEqual(r.body.rows, [], value)
      assert.notInclude(r.text, secret)
      const ordered = await server.get(`/gold/revenue?country[gte]=${encodeURIComponent(value)}&order_by=country`)
      assert.strictEqual(ordered.status, 200, `${value}: ${ordered.text}`)
      assert.notInclude(ordered.text, secret)
    }
    // The table is intact and the server healthy.
    const revenue = await server.get("/gold/revenue?limit=100")
    assert.strictEqual(revenue.body.rows.length, 20)
    assert.strictEqual((await server.get("/health")).status, 200)
  })

  it("refuses oversized bodies and wrong content types on POST with problems", async () => {
    const big = await fetch(`${server.url}/pipelines/shop/runs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ full_refresh: true, pad: "x".repeat(100_000) })
    })
    assert.strictEqual(big.status, 413)
    assert.strictEqual(big.headers.get("content-type"), "application/problem+json")
    const text = await fetch(`${server.url}/pipelines/shop/runs`, { method: "POST", headers: { "content-type": "text/plain" }, body: "run it" })
    assert.strictEqual(text.status, 415)
    const broken = await fetch(`${server.url}/pipelines/shop/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"full_refresh": tru' })
    assert.strictEqual(broken.status, 400)
    const wrongType = await fetch(`${server.url}/pipelines/shop/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"full_refresh": "yes"}' })
    assert.strictEqual(wrongType.status, 400)
    assert.strictEqual((await wrongType.json()).errors[0].parameter, "body.full_refresh")
  })
})
