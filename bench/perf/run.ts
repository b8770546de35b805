/**
 * The performance suite: the same bronze -> silver -> gold work (workload.ts) done three ways,
 * each run a fresh process on a fresh warehouse, over generated orders (generate.ts):
 *
 *   medallion  `medallion apply` (bin/medallion.js, the bundle in dist/) on a pipeline YAML
 *   duckdb     the same tables as SQL written by hand, run through @duckdb/node-api (the floor)
 *   polars     the same work hand-written with nodejs-polars (layers as Parquet files)
 *
 * Every round checks, outside the timed processes, that the gold exports are the same rows and
 * values (EXCEPT ALL both ways and row counts, through DuckDB) and that every layer has the same
 * row count in each variant. Reports per size and variant the median wall time, peak RSS
 * (/usr/bin/time), rows per second and the ratio to the hand-written DuckDB; merges the figures
 * into bench/results/perf.json (one entry per size and source format) and draws
 * bench/results/perf.svg from them.
 *
 *   node bench/perf/run.ts [--sizes 1m,10m,100m] [--runs N] [--quick] [--memory-limit 4GB]
 *     [--threads N] [--variants medallion,duckdb,polars] [--format csv|parquet] [--data-dir DIR] [--keep]
 *     [--duckdb-set KEY=VALUE ...]   (settings for the hand-written variant only, e.g. disabled_optimizers=top_n_window_elimination)
 *     [--results NAME]               (bench/results/NAME.json and .svg; default perf, or perf-quick with --quick)
 *
 * --quick: 1M rows, 2 runs, no warm-up round; results in bench/results/perf-quick.{json,svg}, so the
 * figures of the hand-run sizes in perf.json stay. Defaults otherwise: --sizes 1m,10m --runs 5, threads = CPUs;
 * sizes up to 1M get one untimed warm-up round. Exit code 1 when a variant fails or the outputs differ.
 */
import { DuckDBInstance } from "@duckdb/node-api"
import { copyFileSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { buildBundle } from "../build.ts"
import { lineChart } from "./chart.ts"
import { type Dataset, defaultDataDir, ensureDataset, GENERATOR_VERSION } from "./generate.ts"
import { type ApplyReport, jsonOutput, machineInfo, type Measured, measure, medallionBin, medallionProject, removeProbe, repo, timeBinary } from "./harness.ts"
import { GOLD_EXPORT, GOLD_TABLE, normalizedGold } from "./workload.ts"

const handWritten = join(repo, "bench", "perf", "handwritten.ts")
const polarsScript = join(repo, "bench", "perf", "polars.ts")

const { values: flags } = parseArgs({
  options: {
    sizes: { type: "string" },
    runs: { type: "string" },
    quick: { type: "boolean", default: false },
    "memory-limit": { type: "string" },
    threads: { type: "string" },
    variants: { type: "string", default: "medallion,duckdb,polars" },
    format: { type: "string", default: "csv" },
    "data-dir": { type: "string" },
    keep: { type: "boolean", default: false },
    "duckdb-set": { type: "string", multiple: true, default: [] },
    results: { type: "string" }
  }
})
const floorSettings = flags["duckdb-set"]
const quick = flags.quick
const sizes = (flags.sizes ?? (quick ? "1m" : "1m,10m"))
  .split(",")
  .map((s) => s.trim())
  .filter((s) => s.length > 0)
const runs = Math.max(1, Number(flags.runs ?? (quick ? 2 : 5)))
const threads = Math.max(1, Number(flags.threads ?? availableParallelism()))
const memoryLimit = flags["memory-limit"]
const format = flags.format === "parquet" ? "parquet" : "csv"
const dataDir = flags["data-dir"] ?? defaultDataDir()
const resultsName = flags.results ?? (quick ? "perf-quick" : "perf")
if (!/^[A-Za-z0-9_-]+$/.test(resultsName)) throw new Error(`--results takes a file name without extension, got ${resultsName}`)

type Variant = "medallion" | "duckdb" | "polars"
const allVariants: ReadonlyArray<Variant> = ["medallion", "duckdb", "polars"]
const requested = flags.variants
  .split(",")
  .map((v) => v.trim())
  .filter((v): v is Variant => (allVariants as ReadonlyArray<string>).includes(v))
const polarsMissing = (() => {
  try {
    createRequire(import.meta.url).resolve("nodejs-polars")
    return undefined
  } catch (e) {
    return `nodejs-polars is not installed (${e instanceof Error ? e.message.split("\n")[0] : String(e)}); run npm ci`
  }
})()
if (polarsMissing !== undefined && requested.includes("polars")) process.stderr.write(`perf: skipping polars: ${polarsMissing}\n`)
const variants = requested.filter((v) => v !== "polars" || polarsMissing === undefined)
const labels: Record<Variant, string> = {
  medallion: "medallion apply",
  duckdb: "hand-written DuckDB SQL",
  polars: "nodejs-polars"
}
const colors: Record<Variant, string> = { medallion: "#d9822b", duckdb: "#2b6cb0", polars: "#2f855a" }

// ---------------------------------------------------------------------------------------------
// The variants: set up a fresh directory, run, and say where the outputs are

interface VariantRun {
  readonly variant: Variant
  readonly dir: string
  readonly measured: Measured
  readonly ok: boolean
  readonly error: string | undefined
  /** Milliseconds per table or step, as the variant itself recorded them. */
  readonly steps: Record<string, number>
}

const layerTables = ["bronze.orders", "bronze.orders__rejects", "bronze.customers", "silver.customers", "silver.orders", "silver.orders__quarantine", `gold.${GOLD_TABLE}`] as const

const runVariant = async (variant: Variant, data: Dataset, work: string, round: number): Promise<VariantRun> => {
  const dir = join(work, `${variant}-${round}`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const orders = format === "parquet" ? data.ordersParquet : data.ordersCsv
  const customers = format === "parquet" ? data.customersParquet : data.customersCsv
  let measured: Measured
  if (variant === "medallion") {
    medallionProject(dir, format, orders, customers, { threads, memoryLimit })
    measured = await measure(dir, [medallionBin, "apply", "--json"])
  } else if (variant === "duckdb") {
    measured = await measure(dir, [
      handWritten,
      "--orders",
      orders,
      "--customers",
      customers,
      "--format",
      format,
      "--db",
      join(dir, "warehouse.duckdb"),
      "--export",
      join(dir, GOLD_EXPORT),
      "--threads",
      String(threads),
      ...(memoryLimit === undefined ? [] : ["--memory-limit", memoryLimit]),
      ...floorSettings.flatMap((s) => ["--set", s])
    ])
  } else {
    measured = await measure(dir, [polarsScript, "--orders", orders, "--customers", customers, "--format", format, "--out", dir, "--export", join(dir, GOLD_EXPORT)], {
      POLARS_MAX_THREADS: String(threads)
    })
  }
  let steps: Record<string, number> = {}
  let error: string | undefined
  try {
    const out = jsonOutput(measured.stdout)
    if (variant === "medallion") {
      const report = out as ApplyReport
      for (const t of report.tables ?? []) steps[t.table] = Math.round(t.duration_seconds * 1000)
      const bad = (report.tables ?? []).filter((t) => t.status !== "succeeded" || !t.accounting_ok)
      if (report.run?.status !== "succeeded" || bad.length > 0)
        error = `run ${report.run?.status ?? "?"}: ${bad.map((t) => `${t.table} ${t.status}${t.accounting_ok ? "" : " (accounting off)"} ${t.error ?? ""}`).join("; ")}`
    } else {
      steps = (out["steps_ms"] ?? {}) as Record<string, number>
    }
  } catch (e) {
    error = `unreadable output: ${e instanceof Error ? e.message : String(e)}`
  }
  if (measured.code !== 0) {
    // The first line naming an error (DuckDB's message), else the end of stderr.
    const lines = measured.stderr.trim().split("\n")
    const named = lines.find((l) => /Error|error:/.test(l))
    error = `exited ${measured.code ?? measured.signal}: ${(named ?? lines.slice(-3).join(" | ")).trim().slice(0, 400)}`
  }
  return { variant, dir, measured, ok: error === undefined, error, steps }
}

/** Gold export and layer row counts of a finished run, read outside the timed process. */
const outputsOf = (run: VariantRun) => ({
  gold: join(run.dir, GOLD_EXPORT),
  warehouse: run.variant === "medallion" ? join(run.dir, ".medallion", "warehouse.duckdb") : run.variant === "duckdb" ? join(run.dir, "warehouse.duckdb") : undefined
})

const checkerDb = await DuckDBInstance.create(":memory:")
const checker = await checkerDb.connect()
const queryRows = async (sql: string) => (await checker.runAndReadAll(sql)).getRowObjectsJson()
const literal = (s: string) => `'${s.replaceAll("'", "''")}'`

const layerCounts = async (run: VariantRun): Promise<Record<string, number>> => {
  const { warehouse } = outputsOf(run)
  const counts: Record<string, number> = {}
  if (warehouse !== undefined) {
    await checker.run(`ATTACH ${literal(warehouse)} AS w (READ_ONLY)`)
    try {
      for (const t of layerTables) {
        if (t === "bronze.orders__rejects" && format === "parquet") continue
        counts[t] = Number((await queryRows(`SELECT count(*) AS n FROM w.${t}`))[0]?.["n"])
      }
    } finally {
      await checker.run("DETACH w")
    }
  } else {
    for (const t of layerTables) {
      if (t === "bronze.orders__rejects" && format === "parquet") continue
      const [layer, name] = t.split(".") as [string, string]
      counts[t] = Number((await queryRows(`SELECT count(*) AS n FROM read_parquet(${literal(join(run.dir, layer, `${name}.parquet`))})`))[0]?.["n"])
    }
  }
  return counts
}

interface GoldCheck {
  readonly reference: Variant
  readonly other: Variant
  readonly rows_reference: number
  readonly rows_other: number
  readonly only_in_reference: number
  readonly only_in_other: number
  readonly equal: boolean
}

const compareGold = async (reference: VariantRun, other: VariantRun, referenceGold: string, otherGold: string): Promise<GoldCheck> => {
  const a = normalizedGold(referenceGold),
    b = normalizedGold(otherGold)
  const row = (
    await queryRows(`SELECT
      (SELECT count(*) FROM (${a})) AS ra, (SELECT count(*) FROM (${b})) AS rb,
      (SELECT count(*) FROM (${a} EXCEPT ALL ${b})) AS ab, (SELECT count(*) FROM (${b} EXCEPT ALL ${a})) AS ba`)
  )[0]!
  const [ra, rb, ab, ba] = [row["ra"], row["rb"], row["ab"], row["ba"]].map(Number) as [number, number, number, number]
  return {
    reference: reference.variant,
    other: other.variant,
    rows_reference: ra,
    rows_other: rb,
    only_in_reference: ab,
    only_in_other: ba,
    equal: ra === rb && ab === 0 && ba === 0 && ra > 0
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics and results

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits

interface VariantStats {
  readonly label: string
  readonly runs: number
  readonly failures: ReadonlyArray<string>
  readonly median_ms: number
  readonly min_ms: number
  readonly max_ms: number
  readonly rows_per_second: number
  readonly median_rss_mib: number
  readonly max_rss_mib: number
  readonly samples_ms: ReadonlyArray<number>
  readonly samples_rss_mib: ReadonlyArray<number>
  /** Median milliseconds per table or step, as each variant recorded them. */
  readonly steps_median_ms: Readonly<Record<string, number>>
}

const statsOf = (variant: Variant, list: ReadonlyArray<VariantRun>, rows: number): VariantStats => {
  const good = list.filter((r) => r.ok)
  const ms = good.map((r) => r.measured.ms)
  const rss = list.map((r) => r.measured.rssKiB / 1024).filter((x) => Number.isFinite(x))
  const stepNames = [...new Set(good.flatMap((r) => Object.keys(r.steps)))]
  return {
    label: labels[variant],
    runs: good.length,
    failures: list.filter((r) => !r.ok).map((r) => `${r.error} (peak RSS ${round(r.measured.rssKiB / 1024, 0)} MiB after ${round(r.measured.ms / 1000)} s)`),
    median_ms: round(median(ms)),
    min_ms: round(Math.min(...ms)),
    max_ms: round(Math.max(...ms)),
    rows_per_second: Math.round(rows / (median(ms) / 1000)),
    median_rss_mib: round(median(rss)),
    max_rss_mib: round(Math.max(...rss)),
    samples_ms: ms.map((x) => round(x)),
    samples_rss_mib: rss.map((x) => round(x)),
    steps_median_ms: Object.fromEntries(stepNames.map((s) => [s, Math.round(median(good.flatMap((r) => r.steps[s] ?? [])))]))
  }
}

interface Entry {
  readonly size: string
  readonly rows: number
  readonly customers: number
  readonly format: "csv" | "parquet"
  readonly date: string
  readonly runs: number
  readonly threads: number
  readonly memory_limit: string | null
  /** SET statements the hand-written variant ran first (--duckdb-set). */
  readonly duckdb_settings: ReadonlyArray<string>
  readonly versions: { readonly node: string; readonly duckdb: string; readonly polars: string }
  readonly load_average: { readonly before: ReadonlyArray<number>; readonly after: ReadonlyArray<number> }
  readonly dataset: { readonly generator: string; readonly orders_csv_mib: number; readonly orders_parquet_mib: number; readonly generated_seconds: number }
  readonly variants: Partial<Record<Variant, VariantStats>>
  readonly ratios: { readonly medallion_over_duckdb: number | null; readonly polars_over_duckdb: number | null }
  readonly gold_check: { readonly equal: boolean | null; readonly gold_rows: number; readonly checks: number; readonly mismatches: ReadonlyArray<GoldCheck> }
  readonly layer_counts: Readonly<Record<string, number>>
  readonly layer_counts_equal: boolean
}

const machine = {
  ...machineInfo(),
  duckdb: `@duckdb/node-api ${String((JSON.parse(readFileSync(join(repo, "node_modules", "@duckdb", "node-api", "package.json"), "utf8")) as { version: string }).version)}`,
  polars:
    polarsMissing === undefined
      ? `nodejs-polars ${String((JSON.parse(readFileSync(join(repo, "node_modules", "nodejs-polars", "package.json"), "utf8")) as { version: string }).version)}`
      : "not installed",
  rss_from: timeBinary !== undefined ? "/usr/bin/time -f '%e %M'" : "process.resourceUsage().maxRSS in the child (--import probe)"
}

/** Reads the whole file once, so the first timed variant does not pay for a cold page cache. */
const warmCache = (file: string) =>
  new Promise<void>((done, fail) => {
    const stream = createReadStream(file, { highWaterMark: 1 << 22 })
    stream.on("data", () => {})
    stream.on("end", () => done())
    stream.on("error", fail)
  })

// ---------------------------------------------------------------------------------------------
// Main

const log = (line: string) => process.stderr.write(`${line}\n`)
if (variants.includes("medallion")) buildBundle(repo)
const work = mkdtempSync(join(tmpdir(), "medallion-perf-"))
log(
  `perf: sizes ${sizes.join(", ")}; ${runs} run(s); variants ${variants.join(", ")}; ${threads} thread(s)${memoryLimit === undefined ? "" : `; memory_limit ${memoryLimit}`}${floorSettings.length === 0 ? "" : `; hand-written SET ${floorSettings.join(", ")}`}; source ${format}; data in ${dataDir}; work in ${work}`
)
const entries: Array<Entry> = []
let failed = false

for (const size of sizes) {
  const data = await ensureDataset(size, dataDir, log)
  const loadBefore = loadavg().map((x) => round(x, 2))
  log(`${size}: ${data.rows.toLocaleString("en-US")} order rows; load average ${loadBefore.join(", ")}`)
  for (const file of format === "parquet" ? [data.ordersParquet, data.customersParquet] : [data.ordersCsv, data.customersCsv]) await warmCache(file)
  if (!quick && data.rows <= 1_000_000) {
    log("  warm-up round (untimed)")
    for (const v of variants) {
      const r = await runVariant(v, data, work, 0)
      if (!r.ok) log(`  warm-up ${v} failed: ${r.error}`)
      rmSync(r.dir, { recursive: true, force: true })
    }
  }
  const byVariant = new Map<Variant, Array<VariantRun>>(variants.map((v) => [v, []]))
  const mismatches: Array<GoldCheck> = []
  let checks = 0
  let goldRows = 0
  let referenceCounts: Record<string, number> | undefined
  let countsEqual = true
  for (let round_ = 1; round_ <= runs; round_++) {
    // Rotate the order so that no variant always runs first (or after the same neighbour).
    const order = variants.map((_, i) => variants[(i + round_ - 1) % variants.length]!)
    const finished: Array<VariantRun> = []
    for (const v of order) {
      const r = await runVariant(v, data, work, round_)
      byVariant.get(v)!.push(r)
      log(`  run ${round_}/${runs} ${v.padEnd(9)} ${r.ok ? `${(r.measured.ms / 1000).toFixed(2)} s, peak RSS ${(r.measured.rssKiB / 1024).toFixed(0)} MiB` : `FAILED: ${r.error}`}`)
      if (!r.ok) {
        failed = true
        rmSync(r.dir, { recursive: true, force: true })
        continue
      }
      // Check now and keep only the gold export, so a big size never holds three warehouses at once.
      const counts = await layerCounts(r)
      if (referenceCounts === undefined) referenceCounts = counts
      else if (JSON.stringify(counts) !== JSON.stringify(referenceCounts)) {
        countsEqual = false
        failed = true
        log(`  layer counts differ: ${v} ${JSON.stringify(counts)} vs ${JSON.stringify(referenceCounts)}`)
      }
      const keptGold = join(work, `gold-${v}-${round_}.parquet`)
      copyFileSync(outputsOf(r).gold, keptGold)
      if (!flags.keep) rmSync(r.dir, { recursive: true, force: true })
      finished.push({ ...r, dir: keptGold })
    }
    const reference = finished.find((r) => r.variant === "duckdb") ?? finished[0]
    for (const other of finished) {
      if (reference === undefined || other === reference) continue
      const check = await compareGold(reference, other, reference.dir, other.dir)
      checks++
      goldRows = check.rows_reference
      if (!check.equal) {
        mismatches.push(check)
        failed = true
        log(`  GOLD DIFFERS: ${JSON.stringify(check)}`)
      }
    }
    for (const r of finished) rmSync(r.dir, { force: true })
  }
  const stats = Object.fromEntries(variants.map((v) => [v, statsOf(v, byVariant.get(v)!, data.rows)])) as Partial<Record<Variant, VariantStats>>
  const ratio = (a: VariantStats | undefined, b: VariantStats | undefined) =>
    a === undefined || b === undefined || a.runs === 0 || b.runs === 0 ? null : round(a.median_ms / b.median_ms, 2)
  const entry: Entry = {
    size,
    rows: data.rows,
    customers: data.customers,
    format,
    date: new Date().toISOString(),
    runs,
    threads,
    memory_limit: memoryLimit ?? null,
    duckdb_settings: floorSettings,
    versions: { node: machine.node, duckdb: machine.duckdb, polars: machine.polars },
    load_average: { before: loadBefore, after: loadavg().map((x) => round(x, 2)) },
    dataset: {
      generator: GENERATOR_VERSION,
      orders_csv_mib: round(data.bytes.ordersCsv / 2 ** 20, 0),
      orders_parquet_mib: round(data.bytes.ordersParquet / 2 ** 20, 0),
      generated_seconds: round(data.generatedSeconds)
    },
    variants: stats,
    ratios: { medallion_over_duckdb: ratio(stats.medallion, stats.duckdb), polars_over_duckdb: ratio(stats.polars, stats.duckdb) },
    gold_check: { equal: checks === 0 ? null : mismatches.length === 0, gold_rows: goldRows, checks, mismatches },
    layer_counts: referenceCounts ?? {},
    layer_counts_equal: countsEqual
  }
  entries.push(entry)
  log(
    `${size}: medallion / duckdb = ${entry.ratios.medallion_over_duckdb ?? "n/a"}, polars / duckdb = ${entry.ratios.polars_over_duckdb ?? "n/a"}; gold ${entry.gold_check.equal === null ? "not compared (fewer than two variants finished)" : entry.gold_check.equal ? "identical" : "DIFFERENT"} (${checks} comparisons, ${goldRows} rows); load average after ${entry.load_average.after.join(", ")}`
  )
}

// Merge into the results file: an entry per (rows, format), the newest wins.
const resultsDir = join(repo, "bench", "results")
mkdirSync(resultsDir, { recursive: true })
const resultsFile = join(resultsDir, `${resultsName}.json`)
const previous = existsSync(resultsFile) ? ((JSON.parse(readFileSync(resultsFile, "utf8")) as { entries?: Array<Entry> }).entries ?? []) : []
const merged = [...previous.filter((p) => !entries.some((e) => e.rows === p.rows && e.format === p.format)), ...entries].sort(
  (a, b) => a.format.localeCompare(b.format) || a.rows - b.rows
)
writeFileSync(resultsFile, `${JSON.stringify({ suite: "bench/perf", updated: new Date().toISOString(), machine, entries: merged }, null, 2)}\n`)

const limits = [...new Set(merged.filter((e) => e.memory_limit !== null).map((e) => `${e.rows / 1e6}M rows with memory_limit ${e.memory_limit}`))]
const svg = lineChart(
  "bronze -> silver -> gold: median wall time",
  `${machine.cpus} CPUs, ${machine.memory_gib} GiB; a fresh process per run${limits.length > 0 ? `; ${limits.join(", ")}` : ""}`,
  (["csv", "parquet"] as const)
    .flatMap((f) =>
      allVariants.map((v) => ({
        name: `${labels[v]}${f === "csv" ? "" : " (Parquet in)"}`,
        color: colors[v],
        dashed: f === "parquet",
        points: merged
          .filter((e) => e.format === f)
          .flatMap((e) => {
            const s = e.variants[v]
            return s !== undefined && s.runs > 0 ? [[e.rows, s.median_ms / 1000] as const] : []
          })
      }))
    )
    .filter((s) => s.points.length > 0)
)
writeFileSync(join(resultsDir, `${resultsName}.svg`), svg)

// The table of this invocation's sizes.
const fmt = (n: number) => n.toLocaleString("en-US")
const lines = [
  `${machine.cpus} CPUs (${machine.cpu_model}), ${machine.memory_gib} GiB, ${machine.platform}, Node ${machine.node}, ${machine.duckdb}, ${machine.polars}`,
  "",
  "| rows | variant | runs | median s | min s | max s | rows/s | peak RSS MiB (median / max) | / DuckDB |",
  "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
]
for (const e of entries) {
  for (const v of variants) {
    const s = e.variants[v]
    if (s === undefined) continue
    const vsDuckdb = v === "medallion" ? e.ratios.medallion_over_duckdb : v === "polars" ? e.ratios.polars_over_duckdb : 1
    lines.push(
      s.runs === 0
        ? `| ${fmt(e.rows)} | ${s.label} | 0 | failed: ${s.failures[0] ?? "?"} | | | | ${fmt(Math.round(s.max_rss_mib))} | |`
        : `| ${fmt(e.rows)} | ${s.label} | ${s.runs} | ${(s.median_ms / 1000).toFixed(2)} | ${(s.min_ms / 1000).toFixed(2)} | ${(s.max_ms / 1000).toFixed(2)} | ${fmt(s.rows_per_second)} | ${fmt(Math.round(s.median_rss_mib))} / ${fmt(Math.round(s.max_rss_mib))} | ${vsDuckdb === null ? "" : `${vsDuckdb.toFixed(2)}x`} |`
    )
  }
}
lines.push("")
for (const e of entries) {
  lines.push(
    `${fmt(e.rows)} rows (${e.format}${e.memory_limit === null ? "" : `, memory_limit ${e.memory_limit}`}, ${e.threads} threads${e.duckdb_settings.length === 0 ? "" : `, hand-written SET ${e.duckdb_settings.join(", ")}`}; load average ${e.load_average.before.join(" ")} before, ${e.load_average.after.join(" ")} after): gold ${e.gold_check.equal === null ? "not compared (fewer than two variants finished)" : e.gold_check.equal ? `identical in every run (${e.gold_check.checks} comparisons of ${fmt(e.gold_check.gold_rows)} rows)` : "DIFFERENT"}; layer row counts ${e.layer_counts_equal ? "equal" : "DIFFERENT"}: ${Object.entries(
      e.layer_counts
    )
      .map(([t, n]) => `${t} ${fmt(n)}`)
      .join(", ")}`
  )
}
lines.push(`wrote bench/results/${resultsName}.json and bench/results/${resultsName}.svg`)
console.log(lines.join("\n"))

if (!flags.keep) rmSync(work, { recursive: true, force: true })
else log(`kept ${work}`)
removeProbe()
if (failed) {
  log("perf: a variant failed or the outputs differ (see above)")
  process.exitCode = 1
}
