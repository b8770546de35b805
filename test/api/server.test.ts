/**
 * The real server on an ephemeral 127.0.0.1 port over a real DuckDB warehouse built by applying a
 * small pipeline: every route, pagination and filters, problem JSON, and 409 on overlapping runs.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import type { TestProject } from "../support/project.ts"
import { buildWarehouse, type RunningServer, secret, shopPlan, shopProject, startServer, until } from "./support.ts"

const problemType = (slug: string) => `urn:medallion:problem:${slug}`

describe("medallion serve API", () => {
  let project: TestProject
  let server: RunningServer
  let firstBatch: string
  const plan = shopPlan()

  beforeAll(async () => {
    project = shopProject()
    const report = await buildWarehouse(project, plan)
    assert.strictEqual(report.run.status, "succeeded")
    firstBatch = report.run.batch_id
    server = await startServer(project, plan, { max_limit: 25 })
  })
  afterAll(async () => {
    await server?.close()
    project?.remove()
  })

  const assertProblem = (response: { status: number; headers: Headers; body: any }, status: number, slug: string) => {
    assert.strictEqual(response.status, status, JSON.stringify(response.body))
    assert.strictEqual(response.headers.get("content-type"), "application/problem+json")
    assert.strictEqual(response.body.type, problemType(slug))
    assert.strictEqual(response.body.status, status)
    assert.isString(response.body.title)
    assert.isString(response.body.detail)
  }

  it("GET /health reports the executor and the metadata store", async () => {
    const r = await server.get("/health")
    assert.strictEqual(r.status, 200)
    assert.strictEqual(r.body.status, "ok")
    assert.strictEqual(r.body.checks.executor.status, "ok")
    assert.strictEqual(r.body.checks.metadata.status, "ok")
    assert.isNumber(r.body.checks.executor.duration_ms)
  })

  it("serves its OpenAPI document and an offline docs page", async () => {
    const spec = await server.get("/openapi.json")
    assert.strictEqual(spec.status, 200)
    assert.strictEqual(spec.body.openapi, "3.1.0")
    for (const path of [
      "/health",
      "/metrics",
      "/metrics/prometheus",
      "/gold",
      "/gold/{table}",
      "/pipelines",
      "/pipelines/{name}",
      "/pipelines/{name}/runs",
      "/runs",
      "/runs/{batch_id}"
    ]) {
      assert.property(spec.body.paths, path)
    }
    assert.deepStrictEqual(Object.keys(spec.body.components.securitySchemes).sort(), ["apiKey", "bearer"])
    assert.property(spec.body.paths["/pipelines/{name}/runs"].post.responses, "202")
    assert.property(spec.body.paths["/pipelines/{name}/runs"].post.responses["409"].content, "application/problem+json")
    const docs = await server.get("/docs")
    assert.strictEqual(docs.status, 200)
    assert.include(docs.headers.get("content-type") ?? "", "text/html")
    assert.include(docs.text, "SwaggerUIBundle")
    // Nothing loaded from elsewhere: no script or stylesheet with a src/href.
    assert.notMatch(docs.text, /<script[^>]+src=/i)
    assert.notMatch(docs.text, /<link[^>]+href=["']?https?:/i)
  })

  it("GET /gold lists the built gold tables with columns, row counts and last refresh", async () => {
    const r = await server.get("/gold")
    assert.strictEqual(r.status, 200)
    const names = r.body.tables.map((t: any) => t.name)
    assert.deepStrictEqual(names, ["orders", "revenue"])
    const orders = r.body.tables.find((t: any) => t.name === "orders")
    assert.strictEqual(orders.row_count, 59)
    assert.strictEqual(orders.pipeline, "shop")
    assert.deepStrictEqual(
      orders.columns.map((c: any) => [c.name, c.type]),
      [
        ["id", "INTEGER"],
        ["amount", "DECIMAL(10,2)"],
        ["day", "DATE"],
        ["country", "VARCHAR"],
        ["paid", "BOOLEAN"],
        ["ordered_at", "TIMESTAMP"],
        ["big", "BIGINT"]
      ]
    )
    assert.strictEqual(orders.last_refresh.batch_id, firstBatch)
    const revenue = r.body.tables.find((t: any) => t.name === "revenue")
    assert.strictEqual(revenue.description, "Revenue per day and country")
    assert.strictEqual(revenue.row_count, 20)
    assert.notInclude(r.text, secret)
  })

  it("pages through a table with limit and cursor, without overlap or gaps", async () => {
    const seen: Array<number> = []
    let cursor: string | null = null
    let pages = 0
    do {
      const r: Awaited<ReturnType<RunningServer["get"]>> = await server.get(`/gold/orders?limit=10&order_by=amount.desc${cursor === null ? "" : `&cursor=${cursor}`}`)
      assert.strictEqual(r.status, 200, r.text)
      assert.isAtMost(r.body.rows.length, 10)
      seen.push(...r.body.rows.map((row: any) => row.id))
      cursor = r.body.next_cursor
      pages++
    } while (cursor !== null)
    assert.strictEqual(pages, 6)
    assert.strictEqual(seen.length, 59)
    assert.strictEqual(new Set(seen).size, 59)
    const byOffset = await server.get("/gold/orders?limit=10&offset=20&order_by=amount.desc")
    const third = await server.get("/gold/orders?limit=10&order_by=-amount")
    assert.deepStrictEqual(
      byOffset.body.rows.map((r: any) => r.id),
      seen.slice(20, 30)
    )
    assert.deepStrictEqual(
      third.body.rows.map((r: any) => r.id),
      seen.slice(0, 10)
    )
    assert.strictEqual(byOffset.body.offset, 20)
  })

  it("refuses a limit above api.max_limit, naming it, and defaults it", async () => {
    const big = await server.get("/gold/orders?limit=5000")
    assertProblem(big, 400, "invalid-request")
    assert.include(big.body.errors[0].message, "at most 25")
    const most = await server.get("/gold/orders?limit=25")
    assert.strictEqual(most.body.rows.length, 25)
    const plain = await server.get("/gold/orders")
    assert.strictEqual(plain.body.limit, 25)
    assertProblem(await server.get("/gold/orders?limit=0"), 400, "invalid-request")
    assertProblem(await server.get("/gold/orders?limit=-1"), 400, "invalid-request")
    assertProblem(await server.get("/gold/orders?offset=5&cursor=abc"), 400, "invalid-request")
  })

  it("filters by equality and ranges, typed by the column", async () => {
    const us = await server.get("/gold/orders?country=US&limit=25")
    assert.strictEqual(us.status, 200)
    assert.isAbove(us.body.rows.length, 0)
    assert.isTrue(us.body.rows.every((r: any) => r.country === "US"))

    const range = await server.get("/gold/orders?amount[gte]=100&amount[lt]=200&limit=25&order_by=amount")
    const amounts = range.body.rows.map((r: any) => Number(r.amount))
    assert.isAbove(amounts.length, 0)
    assert.isTrue(amounts.every((a: number) => a >= 100 && a < 200))
    assert.deepStrictEqual(
      amounts,
      [...amounts].sort((a, b) => a - b)
    )

    const days = await server.get("/gold/revenue?day[in]=2024-01-02,2024-01-03&limit=25")
    assert.strictEqual(days.body.rows.length, 10)
    assert.isTrue(days.body.rows.every((r: any) => r.day === "2024-01-02" || r.day === "2024-01-03"))

    const paid = await server.get("/gold/orders?paid=true&country[ne]=US&limit=25")
    assert.isTrue(paid.body.rows.every((r: any) => r.paid === true && r.country !== "US"))
    assert.strictEqual(paid.body.rows.length, 24)

    const at = await server.get("/gold/orders?ordered_at[lt]=2024-01-02T05:00:00&day=2024-01-02&limit=25")
    assert.isTrue(at.body.rows.every((r: any) => r.day === "2024-01-02" && r.ordered_at < "2024-01-02T05:00:00"))
    assert.isAbove(at.body.rows.length, 0)

    // BIGINT beyond 2^53 compares exactly and comes back as an exact string.
    const big = await server.get("/gold/orders?big=9007199254740994")
    assert.deepStrictEqual(
      big.body.rows.map((r: any) => [r.id, r.big]),
      [[1, "9007199254740994"]]
    )

    const notNull = await server.get("/gold/orders?id[is_null]=false&limit=1")
    assert.strictEqual(notNull.body.rows.length, 1)
    const nulls = await server.get("/gold/orders?id[is_null]=true")
    assert.strictEqual(nulls.body.rows.length, 0)
  })

  it("rejects unknown columns, operators and values of the wrong type with problem JSON naming the parameter", async () => {
    const unknown = await server.get("/gold/orders?colour=red")
    assertProblem(unknown, 400, "invalid-request")
    assert.strictEqual(unknown.body.errors[0].parameter, "colour")
    assert.include(unknown.body.errors[0].message, "no column")
    const op = await server.get("/gold/orders?amount[like]=1")
    assert.include(op.body.errors[0].message, "unknown operator")
    const type = await server.get("/gold/orders?day=2024-02-30")
    assertProblem(type, 400, "invalid-request")
    assert.include(type.body.errors[0].message, "DATE")
    const twice = await server.get("/gold/orders?country=US&country=FR")
    assert.include(twice.body.errors[0].message, "[in]")
    const order = await server.get("/gold/orders?order_by=amount;drop")
    assert.strictEqual(order.body.errors[0].parameter, "order_by")
  })

  it("answers 404 problems for unknown tables, pipelines, runs and routes", async () => {
    assertProblem(await server.get("/gold/notes"), 404, "table-not-found")
    const unbuilt = await server.get("/gold/total")
    assertProblem(unbuilt, 404, "table-not-found")
    assert.include(unbuilt.body.detail, "has not been built yet")
    assertProblem(await server.get("/pipelines/nope"), 404, "pipeline-not-found")
    assertProblem(await server.get("/runs/20200101T000000000Z-00000000"), 404, "run-not-found")
    assertProblem(await server.get("/no/such/route"), 404, "not-found")
    assertProblem(await server.post("/pipelines/nope/runs"), 404, "pipeline-not-found")
  })

  it("GET /pipelines and /pipelines/{name}: DAG, schedule and next run time", async () => {
    const list = await server.get("/pipelines")
    assert.strictEqual(list.status, 200)
    assert.deepStrictEqual(
      list.body.pipelines.map((p: any) => p.name),
      ["shop", "slow"]
    )
    const shopSummary = list.body.pipelines[0]
    assert.strictEqual(shopSummary.schedule.cron, "0 3 * * *")
    assert.strictEqual(shopSummary.schedule.timezone, "Europe/Berlin")
    // 03:00 in Berlin is 01:00 or 02:00 UTC; the next one is within a day.
    const next = Date.parse(shopSummary.schedule.next_run)
    assert.isAbove(next, Date.now())
    assert.isAtMost(next - Date.now(), 86_400_000)
    assert.include(["01", "02"], new Date(next).toISOString().slice(11, 13))
    assert.strictEqual(shopSummary.last_run.batch_id, firstBatch)
    assert.isNull(list.body.pipelines[1].schedule)

    const detail = await server.get("/pipelines/shop")
    assert.strictEqual(detail.status, 200)
    assert.deepStrictEqual(
      detail.body.dag.nodes.map((n: any) => n.id),
      ["bronze.notes", "bronze.orders", "silver.notes", "silver.orders", "gold.orders", "gold.revenue"].filter((id) => detail.body.dag.nodes.some((n: any) => n.id === id))
    )
    assert.strictEqual(detail.body.dag.nodes.length, 6)
    assert.deepInclude(detail.body.dag.edges, { from: "silver.orders", to: "gold.revenue" })
    assert.deepInclude(detail.body.dag.edges, { from: "bronze.orders", to: "silver.orders" })
  })

  it("GET /metrics as JSON per pipeline, and as Prometheus text", async () => {
    const json = await server.get("/metrics")
    assert.strictEqual(json.status, 200)
    const shopMetrics = json.body.pipelines.find((p: any) => p.pipeline === "shop")
    assert.strictEqual(shopMetrics.latest_run.batch_id, firstBatch)
    assert.strictEqual(shopMetrics.latest_run.status, "succeeded")
    assert.isAbove(shopMetrics.latest_run.records_in, 0)
    assert.isAtLeast(shopMetrics.totals.runs, 1)
    assert.strictEqual(json.body.prometheus, "/metrics/prometheus")

    for (const r of [await server.get("/metrics", { accept: "text/plain;version=0.0.4" }), await server.get("/metrics/prometheus")]) {
      assert.strictEqual(r.status, 200)
      assert.include(r.headers.get("content-type") ?? "", "text/plain")
      assert.match(r.text, /# TYPE medallion_rows_processed_total counter/)
      assert.match(r.text, /medallion_rows_processed_total\{table="gold\.revenue",layer="gold",pipeline="shop"\} \d+/)
      assert.match(r.text, /medallion_run_duration_bucket\{status="succeeded",le="\+Inf"\} \d+/)
    }
  })

  it("GET /runs filters by pipeline and status; GET /runs/{id} has per-table counts and expectations", async () => {
    const runs = await server.get("/runs?pipeline=shop&status=succeeded")
    assert.strictEqual(runs.status, 200)
    assert.isTrue(runs.body.runs.some((r: any) => r.batch_id === firstBatch))
    assert.isTrue(runs.body.runs.every((r: any) => r.status === "succeeded" && r.pipelines.includes("shop")))
    const none = await server.get("/runs?status=crashed")
    assert.deepStrictEqual(none.body.runs, [])
    assertProblem(await server.get("/runs?status=bogus"), 400, "invalid-request")
    const paged = await server.get("/runs?limit=1")
    assert.strictEqual(paged.body.runs.length, 1)

    const run = await server.get(`/runs/${firstBatch}`)
    assert.strictEqual(run.status, 200)
    assert.strictEqual(run.body.run.status, "succeeded")
    const silver = run.body.tables.find((t: any) => t.table === "silver.orders")
    assert.strictEqual(silver.rows_in, 60)
    assert.strictEqual(silver.quarantined, 1)
    assert.deepInclude(run.body.expectations, { table: "silver.orders", expectation: "positive_amount", kind: "check", on_fail: "quarantine", passed: 59, failed: 1 })
  })

  it("POST /pipelines/{name}/runs answers 202 with the run id, and 409 while that pipeline runs", async () => {
    const first = await server.post("/pipelines/slow/runs")
    assert.strictEqual(first.status, 202, first.text)
    const batchId = first.body.batch_id
    assert.match(batchId, /^\d{8}T\d{9}Z-[0-9a-f]{8}$/)
    assert.strictEqual(first.body.run, `/runs/${batchId}`)
    const second = await server.post("/pipelines/slow/runs", { full_refresh: true })
    assertProblem(second, 409, "run-in-progress")
    assert.strictEqual(second.body.batch_id, batchId)
    assert.strictEqual(second.body.pipeline, "slow")

    const active = await server.get(`/runs/${batchId}`)
    assert.include(["queued", "running"], active.body.run.status)
    assertProblem(await server.post("/pipelines/slow/runs", { unexpected: 1 }), 400, "invalid-request")

    await until("the slow run to finish", async () => (await server.get(`/runs/${batchId}`)).body.run.status === "succeeded", 60_000)
    const pipeline = await server.get("/pipelines/slow")
    assert.isNull(pipeline.body.active_run)
    assert.strictEqual(pipeline.body.last_run.batch_id, batchId)
    const total = await server.get("/gold/total")
    assert.strictEqual(total.status, 200)
    assert.strictEqual(total.body.rows.length, 1)
  }, 90_000)

  it("a cursor stops working once its table is refreshed, and never applies to another query", async () => {
    const page = await server.get("/gold/revenue?limit=2&country=US")
    const cursor = page.body.next_cursor
    assert.isString(cursor)
    assertProblem(await server.get(`/gold/revenue?limit=2&country=FR&cursor=${cursor}`), 400, "invalid-request")
    assertProblem(await server.get(`/gold/orders?limit=2&country=US&cursor=${cursor}`), 400, "invalid-request")
    assertProblem(await server.get(`/gold/revenue?cursor=not-a-cursor`), 400, "invalid-request")
    const ok = await server.get(`/gold/revenue?limit=2&country=US&cursor=${cursor}`)
    assert.strictEqual(ok.status, 200)

    const refresh = await server.post("/pipelines/shop/runs", { full_refresh: true })
    assert.strictEqual(refresh.status, 202)
    await until("the refresh to finish", async () => (await server.get(`/runs/${refresh.body.batch_id}`)).body.run.status === "succeeded", 60_000)
    assertProblem(await server.get(`/gold/revenue?limit=2&country=US&cursor=${cursor}`), 409, "cursor-expired")
  }, 90_000)

  it("a run that finds every table unchanged names them on the run, and refreshes them", async () => {
    const run = await server.post("/pipelines/shop/runs", {})
    assert.strictEqual(run.status, 202)
    await until("the run to finish", async () => (await server.get(`/runs/${run.body.batch_id}`)).body.run.status === "succeeded", 60_000)
    const detail = await server.get(`/runs/${run.body.batch_id}`)
    assert.deepStrictEqual(detail.body.tables, [])
    assert.sameMembers(detail.body.run.unchanged_tables, ["bronze.notes", "bronze.orders", "silver.notes", "silver.orders", "gold.orders", "gold.revenue"])
    const gold = await server.get("/gold")
    const shop = gold.body.tables.filter((t: any) => t.pipeline === "shop")
    assert.deepStrictEqual(
      shop.map((t: any) => t.name),
      ["orders", "revenue"]
    )
    for (const t of shop) assert.strictEqual(t.last_refresh.batch_id, run.body.batch_id, t.name)
  }, 90_000)
})
