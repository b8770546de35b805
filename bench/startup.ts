/**
 * CLI start-up with telemetry off and on: `medallion --version` (never loads telemetry) and a
 * no-op `medallion apply` of the example pipelines, each a fresh process, median of N runs. With
 * telemetry on, traces, metrics and logs go to a local sink that accepts OTLP/HTTP and answers at
 * once, so the figure is the cost of loading the SDK and flushing it, not of a network; and with a
 * collector that is down (a closed port), which the exit waits for at most the 2 s flush bound.
 * Writes bench/results/startup.json.
 *
 *   node bench/startup.ts [--runs N]
 */
import { spawn } from "node:child_process"
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { availableParallelism, tmpdir, totalmem } from "node:os"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"
import { buildBundle } from "./build.ts"

const repo = resolve(import.meta.dirname, "..")
// The CLI as users start it: bin/medallion.js runs the bundle in dist/.
const main = join(repo, "bin", "medallion.js")
buildBundle(repo)
const { values: flags } = parseArgs({ options: { runs: { type: "string", default: "15" } } })
const runs = Math.max(1, Number(flags.runs))

const sink = createServer((request, response) => {
  request.resume()
  request.on("end", () => response.writeHead(200, { "content-type": "application/json" }).end("{}"))
})
await new Promise<void>((done) => sink.listen(0, "127.0.0.1", done))
const address = sink.address()
const endpoint = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`

// The examples in a temporary project, applied once so that the timed applies are no-ops.
const project = mkdtempSync(join(tmpdir(), "medallion-startup-"))
for (const dir of ["pipelines", "data", "config"]) cpSync(join(repo, dir), join(project, dir), { recursive: true })

const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OTEL_")))
/** Wall time of one fresh `medallion <args>`; spawned asynchronously so the sink keeps answering. */
const time = (args: ReadonlyArray<string>, env: Record<string, string | undefined>) =>
  new Promise<number>((done, fail) => {
    const started = performance.now()
    const child = spawn(process.execPath, [main, ...args], { cwd: project, env: env as NodeJS.ProcessEnv, stdio: "ignore" })
    child.on("error", fail)
    child.on("exit", (code) => (code === 0 ? done(performance.now() - started) : fail(new Error(`${args.join(" ")} exited ${code}`))))
  })

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const figures: Array<{ command: string; tracing: string; median_ms: number; min_ms: number; max_ms: number }> = []
await time(["apply"], clean)
const on = { ...clean, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }
// A collector that is down: a port nothing listens on (the exit waits at most the flush bound, 2 s).
const closed = createServer()
await new Promise<void>((done) => closed.listen(0, "127.0.0.1", done))
const closedAddress = closed.address()
await new Promise<void>((done) => closed.close(() => done()))
const unreachable = { ...clean, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${typeof closedAddress === "object" && closedAddress !== null ? closedAddress.port : 9}` }
for (const [args, modes] of [
  [["--version"], [["off", clean]]],
  [
    ["apply"],
    [
      ["off", clean],
      ["on", on],
      ["on, collector down", unreachable]
    ]
  ]
] as const) {
  for (const [tracing, env] of modes) {
    await time(args, env) // warm the code cache
    const samples: Array<number> = []
    for (let i = 0; i < runs; i++) samples.push(await time(args, env))
    figures.push({
      command: `medallion ${args.join(" ")}`,
      tracing,
      median_ms: Math.round(median(samples)),
      min_ms: Math.round(Math.min(...samples)),
      max_ms: Math.round(Math.max(...samples))
    })
  }
}
sink.close()
rmSync(project, { recursive: true, force: true })

console.log(`| command | tracing | median ms | min ms | max ms |\n|---|---|---:|---:|---:|`)
for (const f of figures) console.log(`| \`${f.command}\` | ${f.tracing} | ${f.median_ms} | ${f.min_ms} | ${f.max_ms} |`)
writeFileSync(
  join(repo, "bench", "results", "startup.json"),
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      runs,
      cpus: availableParallelism(),
      memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      figures
    },
    null,
    2
  )}\n`
)
