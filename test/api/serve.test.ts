/**
 * `medallion serve` as a real process: it owns the warehouse (a CLI apply fails at once naming the
 * server), SIGTERM stops it after the running run finishes within the grace period or cancels the
 * run after it, and a run started over HTTP continues the caller's W3C trace (traceparent).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { cli, cliArgs, makeProject, type TestProject } from "../support/project.ts"
import { receiver, type Span } from "../telemetry/receiver.ts"
import { ordersCsv, shop, until } from "./support.ts"

// A few seconds of DuckDB work on one thread.
const slower = `
version: 1
pipeline: slower
gold:
  total:
    sql: select sum(a.range * b.range) as s from range(40000) a, range(20000) b
`

// A table that publishes at once, then seconds of work: a run to kill midway.
const halfway = `
version: 1
pipeline: halfway
sources:
  memos_raw: { format: csv, path: data/notes.csv }
bronze:
  memos: { from: memos_raw }
gold:
  memo_total:
    sql: select sum(a.range * b.range) + (select count(*) from {{ bronze.memos }}) as s from range(40000) a, range(20000) b
`

interface Serving {
  readonly child: ChildProcess
  readonly url: string
  readonly output: () => { stdout: string; stderr: string }
  readonly exited: Promise<{ code: number | null; signal: string | null }>
}

const serve = async (dir: string, env: Readonly<Record<string, string>> = {}): Promise<Serving> => {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OTEL_")))
  const child = spawn(process.execPath, cliArgs(["serve", "--port", "0"]), { cwd: dir, env: { ...clean, ...env, NO_COLOR: "1" } })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()))
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()))
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })))
  await until("the server to listen", () => /medallion serve: http:\/\/127\.0\.0\.1:\d+/.test(stdout) || child.exitCode !== null, 60_000)
  const url = /medallion serve: (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1]
  if (url === undefined) throw new Error(`serve did not start: ${stdout}\n${stderr}`)
  return { child, url, output: () => ({ stdout, stderr }), exited }
}

const json = async (url: string, init?: RequestInit) => {
  const response = await fetch(url, init)
  return { status: response.status, body: (await response.json()) as any }
}

describe("medallion serve (process)", () => {
  const projects: Array<TestProject> = []
  const project = (config: string) => {
    const p = makeProject({
      "pipelines/shop.yaml": shop,
      "pipelines/slower.yaml": slower,
      "pipelines/halfway.yaml": halfway,
      "data/orders.csv": ordersCsv(),
      "data/notes.csv": "id,note\n1,hello\n",
      "config/default.yaml": `duckdb: { threads: 1 }\n${config}`
    })
    projects.push(p)
    return p
  }
  afterAll(() => {
    for (const p of projects) p.remove()
  })

  it("owns the warehouse: a CLI apply fails at once naming the server; SIGTERM lets the running run finish", async () => {
    const p = project("api: { shutdown_grace: 60s }\n")
    const server = await serve(p.dir)
    assert.include(server.output().stdout, "auth: off")
    await until("the auth warning", () => server.output().stderr.includes("warning: auth is off"), 10_000)
    const health = await json(`${server.url}/health`)
    assert.strictEqual(health.status, 200)

    // Refused at once: an apply that waited for the lock would not return before the test's timeout.
    const apply = cli(p.dir, ["apply", "pipelines/shop.yaml"])
    assert.strictEqual(apply.code, 1, apply.stdout)
    assert.match(
      apply.stderr,
      new RegExp(`in use by pid ${server.child.pid} on host \\S+ since \\S+ \\(medallion serve\\); a server owns it: start runs through its API \\(POST /pipelines/<name>/runs\\)`)
    )

    const started = await json(`${server.url}/pipelines/slower/runs`, { method: "POST" })
    assert.strictEqual(started.status, 202)
    await until("the run to start", async () => (await json(`${server.url}/runs/${started.body.batch_id}`)).body.run.status === "running")
    process.kill(server.child.pid!, "SIGTERM")
    // New connections are refused while the run finishes.
    await until("the listener to close", async () => {
      try {
        await fetch(`${server.url}/health`)
        return false
      } catch {
        return true
      }
    })
    const exit = await server.exited
    assert.strictEqual(exit.code, 130, server.output().stderr)
    assert.include(server.output().stdout, `run ${started.body.batch_id} (slower, api): succeeded`)
    const runs = cli(p.dir, ["runs", "--json"])
    assert.strictEqual(runs.code, 0, runs.stderr)
    assert.strictEqual(JSON.parse(runs.stdout).find((r: any) => r.batch_id === started.body.batch_id).status, "succeeded")
    // The lock is gone: apply works again.
    assert.strictEqual(cli(p.dir, ["apply", "pipelines/shop.yaml"]).code, 0)
  }, 120_000)

  it("cancels a run that outlasts the grace period and records it as cancelled", async () => {
    const p = project("api: { shutdown_grace: 200ms }\n")
    const server = await serve(p.dir)
    const started = await json(`${server.url}/pipelines/slower/runs`, { method: "POST" })
    assert.strictEqual(started.status, 202)
    await until("the run to start", async () => (await json(`${server.url}/runs/${started.body.batch_id}`)).body.run.status === "running")
    process.kill(server.child.pid!, "SIGTERM")
    const exit = await server.exited
    assert.strictEqual(exit.code, 130, server.output().stderr)
    assert.match(server.output().stderr, /grace period of \S+ over; cancelling/, server.output().stderr)
    const runs = cli(p.dir, ["runs", "--json"])
    assert.strictEqual(JSON.parse(runs.stdout).find((r: any) => r.batch_id === started.body.batch_id).status, "cancelled")
  }, 120_000)

  it("after kill -9 during a run, the restarted server shows that run crashed everywhere, with the tables it published", async () => {
    const p = project("")
    const first = await serve(p.dir)
    const started = await json(`${first.url}/pipelines/halfway/runs`, { method: "POST" })
    assert.strictEqual(started.status, 202)
    const id: string = started.body.batch_id
    await until(
      "bronze.memos to publish while the run goes on",
      async () => {
        const { body } = await json(`${first.url}/runs/${id}`)
        return body.run.status === "running" && body.tables.some((t: any) => t.table === "bronze.memos")
      },
      60_000
    )
    process.kill(first.child.pid!, "SIGKILL")
    await first.exited

    const second = await serve(p.dir)
    try {
      assert.include(second.output().stderr, "took over a stale lock")
      const one = await json(`${second.url}/runs/${id}`)
      assert.strictEqual(one.status, 200)
      assert.deepStrictEqual([one.body.run.status, one.body.run.records_in, one.body.run.records_out], ["crashed", 1, 1])
      assert.deepStrictEqual(
        one.body.tables.map((t: any) => [t.table, t.status, t.rows_in, t.rows_out]),
        [["bronze.memos", "succeeded", 1, 1]]
      )
      const runs = await json(`${second.url}/runs`)
      assert.deepStrictEqual(
        runs.body.runs.map((r: any) => [r.batch_id, r.status]),
        [[id, "crashed"]]
      )
      assert.deepStrictEqual((await json(`${second.url}/runs?status=running`)).body.runs, [])
      const pipelines = await json(`${second.url}/pipelines`)
      const listed = pipelines.body.pipelines.find((x: any) => x.name === "halfway")
      assert.deepStrictEqual([listed.active_run, listed.last_run.batch_id, listed.last_run.status], [null, id, "crashed"])
      const metrics = await json(`${second.url}/metrics`)
      const measured = metrics.body.pipelines.find((x: any) => x.pipeline === "halfway")
      assert.deepStrictEqual([measured.latest_run.status, measured.totals.running, measured.totals.crashed], ["crashed", 0, 1])
    } finally {
      process.kill(second.child.pid!, "SIGTERM")
      await second.exited
    }
    const cliRuns = cli(p.dir, ["runs", "--json"])
    assert.deepStrictEqual(
      JSON.parse(cliRuns.stdout).map((r: any) => [r.batch_id, r.status]),
      [[id, "crashed"]]
    )
  }, 180_000)

  describe("tracing", () => {
    let collector: Awaited<ReturnType<typeof receiver>>
    beforeAll(async () => {
      collector = await receiver()
    })
    afterAll(async () => {
      await collector.close()
    })

    it("continues the caller's trace from traceparent into the run it starts", async () => {
      const p = project("")
      const server = await serve(p.dir, { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
      const parentId = "00f067aa0ba902b7"
      const started = await json(`${server.url}/pipelines/shop/runs`, { method: "POST", headers: { traceparent: `00-${traceId}-${parentId}-01` } })
      assert.strictEqual(started.status, 202)
      await until("the run to finish", async () => (await json(`${server.url}/runs/${started.body.batch_id}`)).body.run.status === "succeeded", 60_000)
      process.kill(server.child.pid!, "SIGTERM")
      await server.exited
      await until("spans to arrive", () => collector.spans().some((s) => s.name === "medallion.run"), 10_000)
      const spans = collector.spans().filter((s) => s.traceId === traceId)
      const request = spans.find((s) => s.parentSpanId === parentId)
      assert.isDefined(
        request,
        `a server span under the caller's span; got ${collector
          .spans()
          .map((s) => `${s.name}:${s.traceId}`)
          .join(", ")}`
      )
      const run = spans.find((s) => s.name === "medallion.run")
      assert.isDefined(run, "the run's span is in the caller's trace")
      const byId = new Map(spans.map((s) => [s.spanId, s]))
      const chain: Array<Span> = []
      for (let s: Span | undefined = run; s !== undefined; s = s.parentSpanId === undefined ? undefined : byId.get(s.parentSpanId)) chain.push(s)
      assert.include(
        chain.map((s) => s.spanId),
        request!.spanId
      )
      assert.strictEqual(run!.attributes["medallion.batch_id"], started.body.batch_id)
      assert.isTrue(
        spans.some((s) => s.name === "silver.orders" && s.attributes["medallion.table"] === "silver.orders"),
        "table spans, named by their table, in the same trace"
      )
      // The server span is named {method} {route} after the HTTP semantic conventions, with the route as OpenAPI writes it.
      assert.strictEqual(request!.name, "POST /pipelines/{name}/runs")
      assert.deepInclude(request!.attributes, { "http.route": "/pipelines/{name}/runs", "http.request.method": "POST", "http.response.status_code": 202 })
    }, 120_000)
  })
})
