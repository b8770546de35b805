/**
 * The shapes of version 2 of the API, on the real server: gold values (integers as numbers up to
 * 2^53, ISO 8601 times), cursors that carry their listing, a 400 for a limit above the maximum,
 * success_rate null for a run with no rows in (the CLI agreeing), and the OpenAPI document saying so.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { cli, type TestProject } from "../support/project.ts"
import { buildWarehouse, type RunningServer, shop, shopProject, startServer, until } from "./support.ts"
import { planOf } from "../support/project.ts"

const kinds = `
version: 1
pipeline: kinds
gold:
  kinds:
    sql: >-
      select 1 as id, 1::BIGINT as small, 9007199254740991::BIGINT as safe_max, 9007199254740993::BIGINT as beyond,
      (-9007199254740993)::BIGINT as below, 170141183460469231731687303715884105727::HUGEINT as huge,
      18446744073709551615::UBIGINT as ubig, 12.50::DECIMAL(10,2) as price, 1234567890123456.78::DECIMAL(18,2) as wide,
      1.5::DECIMAL(38,10) as wide_short, 'inf'::DOUBLE as inf, DATE '2024-05-02' as day,
      TIMESTAMP '2024-05-02 00:00:00' as at, TIMESTAMP '2024-05-02 07:30:00.25' as at_fraction,
      TIMESTAMPTZ '2024-05-02 00:00:00+02' as at_zoned, [1, 9007199254740993]::BIGINT[] as list,
      {'n': 5::BIGINT, 'at': TIMESTAMP '2024-01-01 00:00:00'} as struct
`

// Fails before it reads a row: a failed run with 0 rows in.
const broken = `
version: 1
pipeline: broken
gold:
  boom:
    sql: select error('boom') as x
`

const problemType = (slug: string) => `urn:medallion:problem:${slug}`

describe("API shapes (version 2)", () => {
  let project: TestProject
  let server: RunningServer
  let serving = false
  const plan = planOf(shop, kinds, broken)

  beforeAll(async () => {
    project = shopProject()
    const report = await buildWarehouse(project, plan)
    assert.strictEqual(report.run.status, "succeeded")
    server = await startServer(project, plan, { max_limit: 50 })
    serving = true
    const built = await server.post("/pipelines/kinds/runs")
    assert.strictEqual(built.status, 202, built.text)
    await until("the kinds run to finish", async () => (await server.get(`/runs/${built.body.batch_id}`)).body.run.status === "succeeded", 60_000)
  })
  afterAll(async () => {
    if (serving) await server?.close()
    project?.remove()
  })

  const assertProblem = (response: { status: number; headers: Headers; body: any }, status: number, slug: string) => {
    assert.strictEqual(response.status, status, JSON.stringify(response.body))
    assert.strictEqual(response.headers.get("content-type"), "application/problem+json")
    assert.strictEqual(response.body.type, problemType(slug))
  }

  it("writes integers as numbers up to 2^53 - 1 and strings beyond, decimals by digits, dates and timestamps as ISO 8601", async () => {
    const r = await server.get("/gold/kinds")
    assert.strictEqual(r.status, 200, r.text)
    assert.deepStrictEqual(r.body.rows, [
      {
        id: 1,
        small: 1,
        safe_max: 9007199254740991,
        beyond: "9007199254740993",
        below: "-9007199254740993",
        huge: "170141183460469231731687303715884105727",
        ubig: "18446744073709551615",
        price: 12.5,
        wide: "1234567890123456.78",
        wide_short: 1.5,
        inf: "Infinity",
        day: "2024-05-02",
        at: "2024-05-02T00:00:00",
        at_fraction: "2024-05-02T07:30:00.25",
        at_zoned: "2024-05-01T22:00:00Z",
        list: [1, "9007199254740993"],
        struct: { n: 5, at: "2024-01-01T00:00:00" }
      }
    ])
    // The text is exact: the large values are not rounded on the way (JSON.parse would keep them as written).
    assert.include(r.text, `"beyond":"9007199254740993"`)
    assert.include(r.text, `"safe_max":9007199254740991`)

    // Counts of an aggregate are numbers, like /runs' counts.
    const revenue = await server.get("/gold/revenue?limit=50")
    assert.isTrue(
      revenue.body.rows.every((row: any) => typeof row.orders === "number" && typeof row.revenue === "number"),
      revenue.text
    )
    const orders = await server.get("/gold/orders?id=1")
    assert.deepStrictEqual(orders.body.rows, [{ id: 1, amount: 7.25, day: "2024-01-02", country: "FR", paid: false, ordered_at: "2024-01-02T01:15:00", big: "9007199254740994" }])

    // What comes out is what a filter takes.
    const zoned = await server.get(`/gold/kinds?at_zoned=${encodeURIComponent(r.body.rows[0].at_zoned)}&at=${r.body.rows[0].at}&day=${r.body.rows[0].day}`)
    assert.strictEqual(zoned.body.rows.length, 1, zoned.text)
    const at = await server.get(`/gold/orders?ordered_at=${orders.body.rows[0].ordered_at}`)
    assert.deepInclude(
      at.body.rows.map((row: any) => row.id),
      1
    )
  })

  it("continues a listing from the cursor alone: its filters, order and page size", async () => {
    const listing = "country[ne]=US&order_by=amount.desc"
    const whole = await server.get(`/gold/orders?${listing}&limit=50`)
    assert.strictEqual(whole.status, 200, whole.text)
    assert.isNull(whole.body.next_cursor)
    const expected = whole.body.rows.map((row: any) => row.id)
    assert.isAbove(expected.length, 30)

    const first = await server.get(`/gold/orders?${listing}&limit=10`)
    const seen: Array<number> = first.body.rows.map((row: any) => row.id)
    let cursor: string | null = first.body.next_cursor
    while (cursor !== null) {
      const page: any = await server.get(`/gold/orders?cursor=${cursor}`)
      assert.strictEqual(page.status, 200, page.text)
      assert.strictEqual(page.body.limit, 10)
      assert.isAtMost(page.body.rows.length, 10)
      seen.push(...page.body.rows.map((row: any) => row.id))
      cursor = page.body.next_cursor
    }
    assert.deepStrictEqual(seen, expected)

    // The same listing written another way is the same listing; limit may change the page size.
    const again = await server.get(`/gold/orders?country[ne]=US&order_by=-amount&cursor=${first.body.next_cursor}`)
    assert.strictEqual(again.status, 200, again.text)
    assert.deepStrictEqual(
      again.body.rows.map((row: any) => row.id),
      expected.slice(10, 20)
    )
    const smaller = await server.get(`/gold/orders?limit=5&cursor=${first.body.next_cursor}`)
    assert.deepStrictEqual(
      smaller.body.rows.map((row: any) => row.id),
      expected.slice(10, 15)
    )
    assert.strictEqual(smaller.body.offset, 10)
    const next = await server.get(`/gold/orders?cursor=${smaller.body.next_cursor}`)
    assert.deepStrictEqual(
      next.body.rows.map((row: any) => row.id),
      expected.slice(15, 20)
    )
  })

  it("refuses a cursor with other filters or another order, naming both listings", async () => {
    const first = await server.get("/gold/orders?country[ne]=US&order_by=amount.desc&limit=10")
    const cursor = first.body.next_cursor
    assert.isString(cursor)
    for (const other of ["country=FR", "order_by=amount", "country[ne]=US", "paid=true&country[ne]=US&order_by=amount.desc"]) {
      const r = await server.get(`/gold/orders?${other}&cursor=${cursor}`)
      assertProblem(r, 400, "invalid-request")
      assert.strictEqual(r.body.errors[0].parameter, "cursor", other)
      assert.include(r.body.errors[0].message, "country[ne]=US&order_by=amount.desc", other)
      assert.include(r.body.errors[0].message, other, other)
      assert.include(r.body.errors[0].message, "send the cursor alone", other)
    }
    // A cursor of the first version cannot continue its listing: start again.
    const old = Buffer.from(JSON.stringify({ v: 1, table: "orders", offset: 10, query: "[[],[]]", version: "" })).toString("base64url")
    assertProblem(await server.get(`/gold/orders?cursor=${old}`), 409, "cursor-expired")
  })

  it("answers a limit above the maximum with a 400 that names it, on gold and on runs", async () => {
    for (const limit of [51, 5000, 20000]) {
      const r = await server.get(`/gold/orders?limit=${limit}`)
      assertProblem(r, 400, "invalid-request")
      assert.strictEqual(r.body.errors[0].parameter, "limit")
      assert.include(r.body.errors[0].message, "at most 50")
    }
    const most = await server.get("/gold/orders?limit=50")
    assert.strictEqual(most.status, 200)
    assert.strictEqual(most.body.rows.length, 50)
    assert.strictEqual(most.body.limit, 50)
    const runs = await server.get("/runs?limit=5000")
    assertProblem(runs, 400, "invalid-request")
    assert.include(runs.body.errors[0].message, "at most 1000")
    assert.strictEqual((await server.get("/runs?limit=1000")).status, 200)
    assertProblem(await server.get("/runs?limit=0"), 400, "invalid-request")
  })

  it("documents version 2 in the OpenAPI document: value shapes, cursors, limits and a nullable success_rate", async () => {
    const spec = (await server.get("/openapi.json")).body
    assert.strictEqual(spec.info.version, "2")
    assert.include(spec.info.description, "Changes in version 2")
    const text = JSON.stringify(spec)
    assert.include(text, "9007199254740991")
    assert.include(text, "TIMESTAMP (no time zone) is ISO 8601 without an offset")
    const parameters = spec.paths["/gold/{table}"].get.parameters
    assert.include(parameters.find((p: any) => p.name === "cursor").schema.description, "alone continues the same listing")
    assert.include(parameters.find((p: any) => p.name === "limit").schema.description, "400")
    const rates: Array<unknown> = []
    const collect = (node: unknown): void => {
      if (typeof node !== "object" || node === null) return
      for (const [key, value] of Object.entries(node)) {
        if (key === "success_rate") rates.push(value)
        collect(value)
      }
    }
    collect(spec.paths)
    assert.isAtLeast(rates.length, 3)
    for (const rate of rates) {
      assert.deepInclude((rate as any).anyOf, { type: "null" })
      assert.include((rate as any).description, "null when no row came in")
    }
  })

  it("gives success_rate null for a failed run with no rows in, in /runs, /metrics and medallion runs alike", async () => {
    const started = await server.post("/pipelines/broken/runs")
    assert.strictEqual(started.status, 202, started.text)
    const batchId = started.body.batch_id
    await until("the broken run to fail", async () => (await server.get(`/runs/${batchId}`)).body.run.status === "failed", 60_000)
    const run = (await server.get(`/runs/${batchId}`)).body.run
    assert.strictEqual(run.records_in, 0)
    assert.isNull(run.success_rate)
    const listed = (await server.get("/runs?pipeline=broken")).body.runs
    assert.isNull(listed.find((r: any) => r.batch_id === batchId).success_rate)
    const metrics = (await server.get("/metrics")).body.pipelines.find((p: any) => p.pipeline === "broken")
    assert.strictEqual(metrics.latest_run.batch_id, batchId)
    assert.isNull(metrics.latest_run.success_rate)
    // A run with rows in keeps its rate.
    const shopRun = (await server.get("/runs?pipeline=shop&status=succeeded")).body.runs.at(-1)
    assert.isAbove(shopRun.success_rate, 0)

    // The CLI reads the same history the same way (the server lets go of the warehouse first).
    await server.close()
    serving = false
    const cliRuns = cli(project.dir, ["runs", "--json"])
    assert.strictEqual(cliRuns.code, 0, cliRuns.stderr)
    const fromCli = (JSON.parse(cliRuns.stdout) as Array<any>).find((r) => r.batch_id === batchId)
    assert.strictEqual(fromCli.status, "failed")
    assert.isNull(fromCli.success_rate)
  }, 90_000)
})
