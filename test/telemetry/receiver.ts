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

/**
 * An OTLP/HTTP receiver: decodes the JSON bodies POSTed to /v1/traces, /v1/metrics and /v1/logs;
 * protobuf bodies are counted by path (their content is not decoded here).
 */
export const receiver = async () => {
  const received: Record<string, Array<any>> = { "/v1/traces": [], "/v1/metrics": [], "/v1/logs": [] }
  const protobuf: Array<string> = []
  const server: Server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      if (req.method === "POST" && req.url !== undefined && Object.hasOwn(received, req.url)) {
        if (req.headers["content-type"]?.includes("json")) received[req.url]!.push(JSON.parse(Buffer.concat(chunks).toString("utf8")))
        else protobuf.push(req.url)
      }
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
            attributes: Object.fromEntries((s.attributes ?? []).map((a: any) => [a.key, value(a.value)]))
          }))
        )
      )
    )
  const resources = (): Array<Record<string, unknown>> =>
    received["/v1/traces"]!.flatMap((b) => b.resourceSpans.map((rs: any) => Object.fromEntries(rs.resource.attributes.map((a: any) => [a.key, value(a.value)]))))
  const logs = (): Array<{ body: unknown; severityNumber: number; traceId: string; spanId: string }> =>
    received["/v1/logs"]!.flatMap((b) =>
      b.resourceLogs.flatMap((rl: any) =>
        rl.scopeLogs.flatMap((sl: any) =>
          sl.logRecords.map((r: any) => ({ body: r.body === undefined ? undefined : value(r.body), severityNumber: r.severityNumber, traceId: r.traceId, spanId: r.spanId }))
        )
      )
    )
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    resources,
    logs,
    /** The JSON bodies POSTed to /v1/metrics, in order. */
    metrics: (): Array<any> => [...received["/v1/metrics"]!],
    /** The paths that received protobuf bodies, in order. */
    protobuf: (): Array<string> => [...protobuf],
    reset: () => {
      for (const bodies of Object.values(received)) bodies.splice(0)
      protobuf.splice(0)
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

/**
 * The CLI as a child process, like `cli` but without blocking this process's event loop. OTLP goes
 * as JSON (which the receiver decodes) unless `env` sets another protocol.
 */
export const cliAsync = (cwd: string, args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}, entry?: string) =>
  new Promise<{ code: number; stdout: string; stderr: string; millis: number }>((resolve, reject) => {
    const started = Date.now()
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OTEL_")))
    const child = spawn(process.execPath, entry === undefined ? cliArgs(args) : [entry, ...args], {
      cwd,
      env: { ...clean, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", ...env, NO_COLOR: "1" }
    })
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
