/**
 * Benchmarks of change detection and incremental runs, each measurement a fresh process:
 *
 *  1. a no-op `medallion apply` of the example pipelines (after one apply, nothing changed),
 *  2. a bare Node process that opens the same DuckDB file and runs one query (the floor),
 *  3. an incremental apply taking 1 new file out of 10, against `apply --full-refresh` of all 10,
 *     on a generated orders dataset: bronze (incremental) -> silver (append) -> gold (aggregate).
 *
 * Reports wall time (median, min, max over N runs) and peak RSS, prints a markdown table and
 * writes bench/results/incremental.json.
 *
 *   node bench/incremental.ts [--runs N] [--rows ROWS_PER_FILE] [--keep]
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"
import { buildBundle } from "./build.ts"
import { machineInfo, type Measured, measure as measureProcess, removeProbe, timeBinary } from "./perf/harness.ts"

const repo = resolve(import.meta.dirname, "..")
// The CLI as users start it: bin/medallion.js runs the bundle in dist/ (rebuilt below).
const main = join(repo, "bin", "medallion.js")
const source = join(repo, "src", "main.ts")
const bare = join(repo, "bench", "bare.js")

const { values: flags } = parseArgs({
  options: {
    runs: { type: "string", default: "7" },
    rows: { type: "string", default: "200000" },
    files: { type: "string", default: "10" },
    keep: { type: "boolean", default: false }
  }
})
const runs = Math.max(1, Number(flags.runs))
const rowsPerFile = Math.max(1, Number(flags.rows))
const fileCount = Math.max(2, Number(flags.files))

// ---------------------------------------------------------------------------------------------
// Measuring one process

/** Runs `node <args>` in `cwd` (bench/perf/harness.ts measures it); a non-zero exit fails the benchmark. */
const measure = async (cwd: string, args: ReadonlyArray<string>) => {
  const measured = await measureProcess(cwd, args)
  if (measured.code !== 0) throw new Error(`node ${args.join(" ")} exited ${measured.code ?? measured.signal}:\n${measured.stdout}\n${measured.stderr}`)
  return measured
}
type Sample = Measured

interface Stats {
  readonly runs: number
  readonly median_ms: number
  readonly min_ms: number
  readonly max_ms: number
  readonly median_rss_mib: number
  readonly max_rss_mib: number
  readonly samples_ms: ReadonlyArray<number>
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits

const stats = (samples: ReadonlyArray<Sample>): Stats => ({
  runs: samples.length,
  median_ms: round(median(samples.map((s) => s.ms))),
  min_ms: round(Math.min(...samples.map((s) => s.ms))),
  max_ms: round(Math.max(...samples.map((s) => s.ms))),
  median_rss_mib: round(median(samples.map((s) => s.rssKiB)) / 1024),
  max_rss_mib: round(Math.max(...samples.map((s) => s.rssKiB)) / 1024),
  samples_ms: samples.map((s) => round(s.ms))
})

const repeat = async (label: string, n: number, once: (i: number) => Promise<Sample>) => {
  const samples: Array<Sample> = []
  for (let i = 0; i < n; i++) {
    samples.push(await once(i))
    process.stderr.write(`  ${label}: run ${i + 1}/${n} ${round(samples[i]!.ms)} ms\n`)
  }
  return stats(samples)
}

// ---------------------------------------------------------------------------------------------
// 1 and 2: no-op apply of the example pipelines vs a bare DuckDB process

const work = mkdtempSync(join(tmpdir(), "medallion-bench-"))
const examples = join(work, "examples")
for (const dir of ["pipelines", "data", "config"]) cpSync(join(repo, dir), join(examples, dir), { recursive: true })
const exampleWarehouse = join(examples, ".medallion", "warehouse.duckdb")

buildBundle(repo)
process.stderr.write(`bench: ${runs} run(s) per figure in ${work}\n`)
process.stderr.write("1. no-op apply of the example pipelines\n")
await measure(examples, [main, "apply"]) // builds the warehouse (and the code caches, see bin/run-bundle.js)
const firstNoop = await measure(examples, [main, "apply"])
if (!/unchanged/.test(firstNoop.stdout)) throw new Error(`the re-apply was not a no-op:\n${firstNoop.stdout}`)
process.stderr.write("2. bare process: open the warehouse, one query (alternating with 1, so both see the same load)\n")
await measure(examples, [bare, exampleWarehouse])
const noopSamples: Array<Sample> = []
const bareSamples: Array<Sample> = []
for (let i = 0; i < runs; i++) {
  noopSamples.push(await measure(examples, [main, "apply"]))
  bareSamples.push(await measure(examples, [bare, exampleWarehouse]))
  process.stderr.write(`  run ${i + 1}/${runs}: no-op ${round(noopSamples[i]!.ms)} ms, bare ${round(bareSamples[i]!.ms)} ms\n`)
}
const noop = stats(noopSamples)
const bareStats = stats(bareSamples)

// Not targets, explanations: the same no-op run from the TypeScript sources (no bundle), and the
// CLI's start-up alone (modules loaded, no warehouse opened).
process.stderr.write("2a. no-op apply from src/main.ts (unbundled)\n")
await measure(examples, [source, "apply"])
const noopSource = await repeat("no-op apply (src)", runs, () => measure(examples, [source, "apply"]))

// Not a target, an explanation: the CLI's start-up alone (modules loaded, no warehouse opened).
process.stderr.write("2b. CLI start-up: medallion --help\n")
await measure(examples, [main, "--help"])
const help = await repeat("--help", runs, () => measure(examples, [main, "--help"]))

// ---------------------------------------------------------------------------------------------
// 3: one new file of ten (incremental) vs --full-refresh of all ten

const pipeline = `version: 1
pipeline: bench
sources:
  order_files: { format: csv, path: data/orders/*.csv, incremental: true }
bronze:
  orders: { from: order_files }
silver:
  orders:
    from: bronze.orders
    mode: merge
    key: [order_id]
    sequence_by: ordered_at
    transforms:
      - cast: { columns: { order_id: bigint, customer_id: bigint, amount: "decimal(12,2)", ordered_at: timestamp }, on_error: quarantine }
      - lowercase: [country]
    expect:
      - { name: positive_amount, check: amount >= 0, on_fail: quarantine }
      - { not_null: [customer_id], on_fail: drop }
gold:
  daily_revenue:
    from: silver.orders
    transforms:
      - window: { column: ordered_at, every: 1 day, as: day }
      - aggregate: { by: [day, country], metrics: { revenue: sum(amount), orders: count(*), customers: count(DISTINCT customer_id) } }
`
const countries = ["us", "de", "fr", "gb", "jp", "br", "in", "ca"]

/** Deterministic orders: file f holds order ids f*rows+1 .. (f+1)*rows, a few bad values. */
const generateOrders = (file: string, f: number, rows: number) => {
  let seed = (f + 1) * 2654435761
  const next = () => {
    seed = (seed + 0x6d2b79f5) >>> 0
    let t = seed
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const lines = ["order_id,customer_id,country,amount,ordered_at"]
  const base = Date.UTC(2025, 0, 1) + f * 30 * 86_400_000
  for (let i = 0; i < rows; i++) {
    const id = f * rows + i + 1
    const customer = next() < 0.002 ? "" : String(1 + Math.floor(next() * 100_000))
    const cents = Math.floor(next() * 50_000)
    const amount = next() < 0.002 ? "n/a" : `${next() < 0.002 ? "-" : ""}${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`
    const at = new Date(base + Math.floor(next() * 30 * 86_400_000)).toISOString().replace("T", " ").slice(0, 19)
    lines.push(`${id},${customer},${countries[Math.floor(next() * countries.length)]},${amount},${at}`)
  }
  writeFileSync(file, `${lines.join("\n")}\n`)
}

const orders = join(work, "orders")
const stash = join(work, "orders-stash")
mkdirSync(join(orders, "pipelines"), { recursive: true })
mkdirSync(join(orders, "data", "orders"), { recursive: true })
mkdirSync(stash, { recursive: true })
writeFileSync(join(orders, "pipelines", "bench.yaml"), pipeline)
const names = Array.from({ length: fileCount }, (_, f) => `orders_${String(f + 1).padStart(2, "0")}.csv`)
process.stderr.write(`3. generating ${fileCount} x ${rowsPerFile.toLocaleString("en-US")} rows\n`)
for (const [f, name] of names.entries()) generateOrders(join(stash, name), f, rowsPerFile)
const ordersWarehouse = join(orders, ".medallion", "warehouse.duckdb")
const snapshot = join(work, "nine-files.duckdb")

// The warehouse with the first nine files applied, saved to start each incremental run from.
for (const name of names.slice(0, -1)) copyFileSync(join(stash, name), join(orders, "data", "orders", name))
await measure(orders, [main, "apply"])
if (existsSync(`${ordersWarehouse}.wal`)) throw new Error("a WAL file remains after apply; the snapshot would be incomplete")
copyFileSync(ordersWarehouse, snapshot)
copyFileSync(join(stash, names.at(-1)!), join(orders, "data", "orders", names.at(-1)!))

process.stderr.write(`3a. incremental apply: 1 new file of ${fileCount}\n`)
const incremental = await repeat("incremental", runs, async () => {
  copyFileSync(snapshot, ordersWarehouse)
  const sample = await measure(orders, [main, "apply"])
  if (!/incremental/.test(sample.stdout)) throw new Error(`not an incremental run:\n${sample.stdout}`)
  return sample
})
process.stderr.write(`3b. full rebuild: apply --full-refresh of all ${fileCount} files\n`)
const full = await repeat("full refresh", runs, async () => {
  const sample = await measure(orders, [main, "apply", "--full-refresh"])
  if (!/rebuild/.test(sample.stdout)) throw new Error(`not a rebuild:\n${sample.stdout}`)
  return sample
})

// ---------------------------------------------------------------------------------------------
// Report

const machine = {
  ...machineInfo(),
  rss_from: timeBinary !== undefined ? "/usr/bin/time -f '%e %M'" : "process.resourceUsage().maxRSS in the child (--import probe)"
}
const ratio = (a: Stats, b: Stats) => round(a.median_ms / b.median_ms, 2)
const results = {
  date: new Date().toISOString(),
  machine,
  runs,
  dataset: { files: fileCount, rows_per_file: rowsPerFile },
  figures: {
    noop_apply: { command: "node bin/medallion.js apply (example pipelines, nothing changed; runs dist/)", ...noop },
    noop_apply_source: { command: "node src/main.ts apply (the same, unbundled)", ...noopSource },
    bare_duckdb: { command: "node bench/bare.js .medallion/warehouse.duckdb", ...bareStats },
    cli_startup: { command: "node bin/medallion.js --help", ...help },
    incremental_1_of_10: { command: `node bin/medallion.js apply (1 new file of ${fileCount})`, ...incremental },
    full_refresh_10: { command: `node bin/medallion.js apply --full-refresh (${fileCount} files)`, ...full }
  },
  ratios: {
    noop_over_bare: ratio(noop, bareStats),
    // Each no-op ran right before its bare process: the median of the rounds' own ratios, which a
    // slow stretch of the shared machine shifts less than it shifts either median.
    noop_over_bare_paired: round(median(noopSamples.map((s, i) => s.ms / bareSamples[i]!.ms)), 2),
    noop_target: 1.5,
    noop_within_target: ratio(noop, bareStats) <= 1.5,
    cli_startup_over_bare: ratio(help, bareStats),
    full_over_incremental: ratio(full, incremental)
  }
}
mkdirSync(join(repo, "bench", "results"), { recursive: true })
writeFileSync(join(repo, "bench", "results", "incremental.json"), `${JSON.stringify(results, null, 2)}\n`)

const row = (name: string, s: Stats) =>
  `| ${name} | ${s.median_ms.toFixed(0)} | ${s.min_ms.toFixed(0)} | ${s.max_ms.toFixed(0)} | ${s.median_rss_mib.toFixed(0)} | ${s.max_rss_mib.toFixed(0)} |`
console.log(`
${machine.cpus} CPUs (${machine.cpu_model}), ${machine.memory_gib} GiB, ${machine.platform}, Node ${machine.node}; ${runs} runs per figure

| figure | median ms | min ms | max ms | median peak RSS MiB | max peak RSS MiB |
|---|---:|---:|---:|---:|---:|
${row("no-op apply (example pipelines)", noop)}
${row("no-op apply, unbundled (src/main.ts)", noopSource)}
${row("bare: open DuckDB + 1 query", bareStats)}
${row("CLI start-up only (--help)", help)}
${row(`incremental apply, 1 new file of ${fileCount}`, incremental)}
${row(`apply --full-refresh, ${fileCount} files`, full)}

no-op / bare = ${results.ratios.noop_over_bare}x (target <= 1.5x: ${results.ratios.noop_within_target ? "met" : "missed"}); median of the rounds' ratios ${results.ratios.noop_over_bare_paired}x
CLI start-up alone / bare = ${results.ratios.cli_startup_over_bare}x
full refresh / incremental = ${results.ratios.full_over_incremental}x
wrote bench/results/incremental.json`)

if (flags.keep) process.stderr.write(`kept ${work}\n`)
else rmSync(work, { recursive: true, force: true })
removeProbe()
