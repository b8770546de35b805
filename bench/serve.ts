/**
 * Load on `medallion serve`: autocannon against GET /health and GET /gold/{table} (a page of 50
 * rows of gold.daily_revenue, ordered, with a bearer JWT checked on every request), each for
 * --duration seconds with --connections concurrent connections. The server is the installed
 * entry (bin/medallion.js) over the example pipelines, applied once first; load generator and
 * server share the machine. Writes bench/results/serve.json.
 *
 *   node bench/serve.ts [--duration 30] [--connections 10]
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { createHmac } from "node:crypto"
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from "node:os"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"
import { buildBundle } from "./build.ts"

interface AutocannonOptions {
  readonly url: string
  readonly duration: number
  readonly connections: number
  readonly headers?: Record<string, string>
}
interface Histogram {
  readonly average: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}
interface AutocannonResult {
  readonly requests: Histogram & { readonly total: number }
  readonly latency: Histogram
  readonly errors: number
  readonly timeouts: number
  readonly non2xx: number
  readonly duration: number
}
// autocannon ships no types: the options and result fields used here, as documented in its README.
const autocannon = createRequire(import.meta.url)("autocannon") as (options: AutocannonOptions) => Promise<AutocannonResult>

const repo = resolve(import.meta.dirname, "..")
const main = join(repo, "bin", "medallion.js")
const { values: flags } = parseArgs({ options: { duration: { type: "string", default: "30" }, connections: { type: "string", default: "10" } } })
const duration = Math.max(1, Number(flags.duration))
const connections = Math.max(1, Number(flags.connections))
buildBundle(repo)

const project = mkdtempSync(join(tmpdir(), "medallion-serve-bench-"))
let server: ChildProcess | undefined
// However the benchmark ends, the server and the temporary project go with it.
process.on("exit", () => {
  server?.kill("SIGKILL")
  rmSync(project, { recursive: true, force: true })
})
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(130))
for (const dir of ["pipelines", "data", "config"]) cpSync(join(repo, dir), join(project, dir), { recursive: true })
const secret = "bench-secret-0123456789abcdef"
const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OTEL_"))), MEDALLION_JWT_SECRET: secret, NO_COLOR: "1" }
const applied = spawnSync(process.execPath, [main, "apply"], { cwd: project, env, encoding: "utf8" })
if (applied.status !== 0) throw new Error(`apply failed: ${applied.stderr}`)

const token = (() => {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url")
  const head = `${part({ alg: "HS256", typ: "JWT" })}.${part({ sub: "bench", scope: "read", exp: Math.floor(Date.now() / 1000) + 3600 })}`
  return `${head}.${createHmac("sha256", secret).update(head).digest("base64url")}`
})()

server = spawn(process.execPath, [main, "serve", "--port", "0"], { cwd: project, env, stdio: ["ignore", "pipe", "inherit"] })
let stopping = false
server.on("exit", (code, signal) => {
  if (!stopping) {
    console.error(`medallion serve exited during the benchmark (${code ?? signal})`)
    process.exit(1)
  }
})
const url = await new Promise<string>((done, fail) => {
  let out = ""
  server!.stdout!.on("data", (chunk: Buffer) => {
    out += chunk.toString()
    const found = /medallion serve: (http:\/\/\S+?) /.exec(out)
    if (found !== null) done(found[1]!)
  })
  server!.on("exit", (code) => fail(new Error(`serve exited ${code}: ${out}`)))
})

const targets = [
  { name: "GET /health", path: "/health", headers: {} },
  { name: "GET /gold/daily_revenue (50 rows, order_by, JWT)", path: "/gold/daily_revenue?limit=50&order_by=revenue_usd.desc", headers: { authorization: `Bearer ${token}` } }
]
const figures: Array<Record<string, unknown>> = []
for (const target of targets) {
  const probe = await fetch(`${url}${target.path}`, { headers: target.headers })
  if (probe.status !== 200) throw new Error(`${target.path} answered ${probe.status}: ${await probe.text()}`)
  await autocannon({ url: `${url}${target.path}`, duration: 3, connections, headers: target.headers }) // warm-up
  const load = loadavg()[0]
  const r = await autocannon({ url: `${url}${target.path}`, duration, connections, headers: target.headers })
  figures.push({
    target: target.name,
    path: target.path,
    requests_per_second: Math.round(r.requests.average),
    requests_total: r.requests.total,
    latency_p50_ms: r.latency.p50,
    latency_p99_ms: r.latency.p99,
    latency_max_ms: r.latency.max,
    errors: r.errors,
    timeouts: r.timeouts,
    non_2xx: r.non2xx,
    load_average_before: Math.round(load! * 100) / 100
  })
}
stopping = true
const stopped = new Promise((done) => server!.on("exit", done))
server.kill("SIGTERM")
await stopped
server = undefined

console.log(`| target | req/s | p50 ms | p99 ms | max ms | errors | non-2xx |\n|---|---:|---:|---:|---:|---:|---:|`)
for (const f of figures) {
  console.log(
    `| ${f["target"]} | ${f["requests_per_second"]} | ${f["latency_p50_ms"]} | ${f["latency_p99_ms"]} | ${f["latency_max_ms"]} | ${Number(f["errors"]) + Number(f["timeouts"])} | ${f["non_2xx"]} |`
  )
}
writeFileSync(
  join(repo, "bench", "results", "serve.json"),
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      duration_seconds: duration,
      connections,
      cpus: availableParallelism(),
      cpu: cpus()[0]?.model,
      memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      node: process.version,
      figures
    },
    null,
    2
  )}\n`
)
