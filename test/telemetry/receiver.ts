/**
 * Shared by the telemetry end-to-end tests: a real OTLP/HTTP JSON receiver on loopback, and the CLI
 * as a non-blocking child process (so the receiver in the test process can answer while it runs).
 */
import { spawn } from "node:child_process"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { cliArgs, makeProject } from "../support/project.ts"

export interface Span {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string | undefined
  readonly name: string
  readonly status: { readonly code: number; readonly message?: string }
  readonly attributes: Record<string, unknown>
}

/** An OTLP AnyValue as a plain value. */
export const value = (v: Record<string, unknown>): unknown => {
  if ("arrayValue" in v) return ((v["arrayValue"] as { values?: Array<Record<string, unknown>> }).values ?? []).map(value)
  if ("intValue" in v) return Number(v["intValue"])
  return Object.values(v)[0]
}

/** An OTLP/HTTP receiver: collects the POSTed JSON bodies at /v1/traces and /v1/metrics. */
export const receiver = async () => {
  const received: Record<string, Array<any>> = { "/v1/traces": [], "/v1/metrics": [] }
  const server: Server = createServer((req, res) => {
    let body = ""
    req.on("data", (chunk) => (body += chunk))
    req.on("end", () => {
      if (req.method === "POST" && req.url !== undefined && Object.hasOwn(received, req.url)) received[req.url]!.push(JSON.parse(body))
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  const spans = (): Array<Span> =>
    received["/v1/traces"]!.flatMap((b) =>
      b.resourceSpans.flatMap((rs: any) =>
        rs.scopeSpans.flatMap((ss: any) =>
          ss.spans.map((s: any) => ({
            ...s,
            attributes: Object.fromEntries(s.attributes.map((a: any) => [a.key, value(a.value)]))
          })))))
  const resources = (): Array<Record<string, unknown>> =>
    received["/v1/traces"]!.flatMap((b) => b.resourceSpans.map((rs: any) => Object.fromEntries(rs.resource.attributes.map((a: any) => [a.key, value(a.value)]))))
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    resources,
    /** The JSON bodies POSTed to /v1/metrics, in order. */
    metrics: (): Array<any> => [...received["/v1/metrics"]!],
    reset: () => {
      for (const bodies of Object.values(received)) bodies.splice(0)
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

/** A loopback port nothing listens on. */
export const closedPort = async () => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** The CLI as a child process, like `cli` but without blocking this process's event loop. */
export const cliAsync = (cwd: string, args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string; millis: number }>((resolve, reject) => {
    const started = Date.now()
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OTEL_")))
    const child = spawn(process.execPath, cliArgs(args), { cwd, env: { ...clean, ...env, NO_COLOR: "1" } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c) => (stdout += c))
    child.stderr.on("data", (c) => (stderr += c))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, millis: Date.now() - started }))
  })

const shopPipeline = (onFail: "drop" | "fail") => `
version: 1
pipeline: shop
sources:
  orders_raw: { format: csv, path: data/orders/*.csv }
bronze:
  orders: { from: orders_raw }
silver:
  orders:
    from: bronze.orders
    transforms:
      - cast: { columns: { id: int, amount: "decimal(10,2)" }, on_error: quarantine }
    expect:
      - { name: positive_amount, check: amount > 0, on_fail: ${onFail} }
`

/** A one-pipeline project: bronze orders with a malformed value, silver with a quarantining cast and an expectation. */
export const shopProject = (onFail: "drop" | "fail") =>
  makeProject({ "pipelines/shop.yaml": shopPipeline(onFail), "data/orders/a.csv": "id,amount\n1,10.50\n2,abc\n3,-1\n4,secret-value-777\n" })
