/**
 * Where medallion spends time that the hand-written SQL does not, measured, per size:
 *
 *  1. `medallion apply` with tracing on, to a local OTLP/HTTP JSON sink: every SQL statement is a
 *     span (see README, Telemetry), so each table's time splits into its statements by kind
 *     (stage materialization, row counts, accounting, publishing copies, export, swap, metadata)
 *     plus the JavaScript time between statements (file hashing, compiling, bookkeeping);
 *  2. `node --cpu-prof bin/medallion.js apply` (tracing off): self time of the main thread by
 *     function and by kind (idle while DuckDB works, hashing, module loading, GC, ...);
 *  3. the hand-written SQL (handwritten.ts) with its per-statement times, with and without the
 *     lineage columns.
 *
 * Prints a markdown report and writes bench/results/perf-profile.json.
 *
 *   node bench/perf/profile.ts [--sizes 1m,10m] [--threads N] [--memory-limit 4GB] [--data-dir DIR] [--keep]
 */
import { readdirSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type IncomingMessage } from "node:http"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { buildBundle } from "../build.ts"
import { defaultDataDir, ensureDataset } from "./generate.ts"
import { type ApplyReport, jsonOutput, measure, medallionBin, medallionProject, removeProbe, repo } from "./harness.ts"
import { GOLD_EXPORT } from "./workload.ts"

const { values: flags } = parseArgs({
  options: {
    sizes: { type: "string", default: "1m,10m" },
    threads: { type: "string" },
    "memory-limit": { type: "string" },
    "data-dir": { type: "string" },
    keep: { type: "boolean", default: false }
  }
})
const threads = Math.max(1, Number(flags.threads ?? availableParallelism()))
const memoryLimit = flags["memory-limit"]
const dataDir = flags["data-dir"] ?? defaultDataDir()
const log = (line: string) => process.stderr.write(`${line}\n`)
const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits

// ---------------------------------------------------------------------------------------------
// A local OTLP/HTTP sink that keeps the spans (JSON protocol)

interface OtlpValue {
  readonly stringValue?: string
  readonly intValue?: string | number
  readonly boolValue?: boolean
  readonly doubleValue?: number
}
interface OtlpSpan {
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly startTimeUnixNano: string | number
  readonly endTimeUnixNano: string | number
  readonly attributes?: ReadonlyArray<{ readonly key: string; readonly value: OtlpValue }>
}
interface Span {
  readonly id: string
  readonly parent: string | undefined
  readonly name: string
  readonly startMs: number
  readonly endMs: number
  readonly attributes: Readonly<Record<string, string>>
}

const spans: Array<Span> = []
const toMs = (nanos: string | number) => Number(BigInt(nanos) / 1000n) / 1000
const body = (request: IncomingMessage) =>
  new Promise<string>((done) => {
    let text = ""
    request.on("data", (c: Buffer) => (text += c.toString()))
    request.on("end", () => done(text))
  })
const sink = createServer((request, response) => {
  void body(request).then((text) => {
    if (request.url?.endsWith("/v1/traces") === true && text.length > 0) {
      const payload = JSON.parse(text) as { resourceSpans?: ReadonlyArray<{ scopeSpans?: ReadonlyArray<{ spans?: ReadonlyArray<OtlpSpan> }> }> }
      for (const rs of payload.resourceSpans ?? []) {
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              id: s.spanId,
              parent: s.parentSpanId === "" ? undefined : s.parentSpanId,
              name: s.name,
              startMs: toMs(s.startTimeUnixNano),
              endMs: toMs(s.endTimeUnixNano),
              attributes: Object.fromEntries(
                (s.attributes ?? []).map((a) => [a.key, String(a.value.stringValue ?? a.value.intValue ?? a.value.boolValue ?? a.value.doubleValue ?? "")])
              )
            })
          }
        }
      }
    }
    response.writeHead(200, { "content-type": "application/json" }).end("{}")
  })
})
await new Promise<void>((done) => sink.listen(0, "127.0.0.1", done))
const address = sink.address()
const endpoint = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`

/** What a statement medallion ran is for, from its text. */
const kindOf = (sql: string): string => {
  const s = sql.replace(/\s+/g, " ").trim()
  if (/^CREATE OR REPLACE TEMP TABLE "__stage_bronze_/.test(s)) return "bronze: read files into a temp stage table"
  if (/^CREATE OR REPLACE TEMP TABLE "__stage_/.test(s)) return "model: materialize the marked chain into a temp stage table"
  if (/^SELECT count\(\*\) AS n FROM "__stage_/.test(s)) return "count the stage table"
  if (/count\(\*\) AS n FROM "__stage_.* GROUP BY/.test(s) || /count\(\*\) AS n FROM \(.*\) AS flagged GROUP BY/.test(s)) return "accounting: classify every row (GROUP BY)"
  if (/^CREATE OR REPLACE TABLE "(bronze|silver|gold)"\."[^"]*__(quarantine|rejects)__next"/.test(s)) return "publish: write __quarantine/__rejects __next"
  if (/^CREATE OR REPLACE TABLE "bronze"\."[^"]*__next" AS SELECT .* FROM \(SELECT \* FROM read_/.test(s)) return "bronze: read files straight into the table's __next"
  if (/^CREATE OR REPLACE TABLE "(bronze|silver|gold)"\."[^"]*__next" AS WITH /.test(s)) return "model: build the table's __next straight from the chain (no stage)"
  if (/^CREATE OR REPLACE TABLE "(bronze|silver|gold)"\."[^"]*__next"/.test(s)) return "publish: copy stage into the table's __next"
  if (/^COPY /.test(s)) return "export (COPY TO parquet)"
  if (/^DROP TABLE IF EXISTS temp\./.test(s)) return "drop temp tables"
  if (/^(DROP (TABLE|VIEW) IF EXISTS|ALTER TABLE) "(bronze|silver|gold)"/.test(s)) return "swap (drop old, rename __next)"
  if (/_medallion/.test(s)) return "metadata (_medallion reads and writes)"
  if (/information_schema/.test(s)) return "catalog lookups (information_schema)"
  if (/^(BEGIN|COMMIT|ROLLBACK)/.test(s)) return "transaction begin/commit"
  if (/^CREATE SCHEMA/.test(s)) return "create schemas"
  return `other: ${s.slice(0, 60)}`
}

interface TableProfile {
  readonly table: string
  readonly ms: number
  readonly statements: number
  readonly statement_ms: number
  /** Table time outside SQL statements: hashing files, compiling, Effect and bookkeeping. */
  readonly outside_sql_ms: number
  readonly by_kind: Readonly<Record<string, { readonly ms: number; readonly count: number }>>
}

const profileSpans = (all: ReadonlyArray<Span>) => {
  const byId = new Map(all.map((s) => [s.id, s]))
  const tableOf = (s: Span): string | undefined => {
    let p = s.parent === undefined ? undefined : byId.get(s.parent)
    while (p !== undefined) {
      if (p.name === "medallion.table") return p.attributes["medallion.table"]
      p = p.parent === undefined ? undefined : byId.get(p.parent)
    }
    return undefined
  }
  const statements = all.filter((s) => s.attributes["db.query.text"] !== undefined)
  const root = all.find((s) => s.name === "medallion.apply")
  const run = all.find((s) => s.name === "medallion.run")
  const tables: Array<TableProfile> = all
    .filter((s) => s.name === "medallion.table")
    .sort((a, b) => a.startMs - b.startMs)
    .map((t) => {
      const mine = statements.filter((s) => tableOf(s) === t.attributes["medallion.table"])
      const kinds: Record<string, { ms: number; count: number }> = {}
      for (const s of mine) {
        const k = kindOf(s.attributes["db.query.text"]!)
        kinds[k] = { ms: round((kinds[k]?.ms ?? 0) + s.endMs - s.startMs, 1), count: (kinds[k]?.count ?? 0) + 1 }
      }
      const statementMs = mine.reduce((a, s) => a + s.endMs - s.startMs, 0)
      return {
        table: t.attributes["medallion.table"] ?? "?",
        ms: round(t.endMs - t.startMs),
        statements: mine.length,
        statement_ms: round(statementMs),
        outside_sql_ms: round(t.endMs - t.startMs - statementMs),
        by_kind: Object.fromEntries(Object.entries(kinds).sort((a, b) => b[1].ms - a[1].ms))
      }
    })
  const outside = statements.filter((s) => tableOf(s) === undefined)
  const outsideKinds: Record<string, { ms: number; count: number }> = {}
  for (const s of outside) {
    const k = kindOf(s.attributes["db.query.text"]!)
    outsideKinds[k] = { ms: round((outsideKinds[k]?.ms ?? 0) + s.endMs - s.startMs, 1), count: (outsideKinds[k]?.count ?? 0) + 1 }
  }
  return {
    apply_span_ms: root === undefined ? null : round(root.endMs - root.startMs),
    run_span_ms: run === undefined ? null : round(run.endMs - run.startMs),
    statements: statements.length,
    tables,
    outside_tables: { statements: outside.length, ms: round(outside.reduce((a, s) => a + s.endMs - s.startMs, 0)), by_kind: outsideKinds }
  }
}

// ---------------------------------------------------------------------------------------------
// CPU profile of the main thread

interface CpuProfile {
  readonly nodes: ReadonlyArray<{ readonly id: number; readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number } }>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const cpuKind = (fn: string, url: string): string => {
  if (fn === "(idle)") return "idle (waiting for DuckDB's threads or I/O)"
  if (fn === "(program)") return "(program): native code outside JS"
  if (fn === "(garbage collector)") return "garbage collection"
  if (/crypto|hash/i.test(url) || /^(update|digest|Hash)$/.test(fn)) return "sha256 of source files"
  if (/internal\/(fs|streams)|node:fs|node:stream/.test(url)) return "file streams (reading files to hash)"
  if (/internal\/modules|node:module/.test(url) || fn === "compileSourceTextModule" || fn === "compileFunction") return "module loading"
  if (/@duckdb/.test(url)) return "@duckdb/node-api (results to JS)"
  if (/\/dist\/|\/src\//.test(url)) return "medallion and Effect (bundle)"
  if (/@opentelemetry|effect/.test(url)) return "libraries"
  if (url === "") return `native: ${fn}`
  return "other JS"
}

const summarizeCpu = (profile: CpuProfile) => {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  for (const [i, id] of profile.samples.entries()) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const byFunction = new Map<string, number>()
  const byKind = new Map<string, number>()
  for (const [id, ms] of self) {
    const { functionName, url, lineNumber } = nodes.get(id)!.callFrame
    const name = `${functionName || "(anonymous)"} ${url.replace(/^.*\/(node_modules|dist|src)\//, "$1/")}${url === "" ? "" : `:${lineNumber + 1}`}`
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms)
    const k = cpuKind(functionName, url)
    byKind.set(k, (byKind.get(k) ?? 0) + ms)
  }
  const top = (m: Map<string, number>, n: number) =>
    Object.fromEntries(
      [...m]
        .sort((a, b) => b[1] - a[1])
        .slice(0, n)
        .map(([k, v]) => [k, round(v)])
    )
  return { total_ms: round(total), by_kind: top(byKind, 20), top_functions: top(byFunction, 15) }
}

// ---------------------------------------------------------------------------------------------
// Main

buildBundle(repo)
const work = mkdtempSync(join(tmpdir(), "medallion-perf-profile-"))
const results: Array<Record<string, unknown>> = []
const report: Array<string> = []

for (const size of flags.sizes
  .split(",")
  .map((s) => s.trim())
  .filter((s) => s.length > 0)) {
  const data = await ensureDataset(size, dataDir, log)
  const load = loadavg().map((x) => round(x, 2))
  log(`${size}: load average ${load.join(", ")}`)
  const settings = { threads, memoryLimit }

  // 1. traced apply
  spans.length = 0
  const traced = join(work, `traced-${size}`)
  medallionProject(traced, "csv", data.ordersCsv, data.customersCsv, settings)
  const tracedRun = await measure(traced, [medallionBin, "apply", "--json"], {
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_METRICS_EXPORTER: "none",
    OTEL_LOGS_EXPORTER: "none",
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "2048",
    OTEL_BSP_MAX_QUEUE_SIZE: "8192"
  })
  if (tracedRun.code !== 0) throw new Error(`traced apply failed: ${tracedRun.stderr}`)
  const applyReport = jsonOutput(tracedRun.stdout) as ApplyReport
  const trace = profileSpans(spans)
  log(`  traced apply ${round(tracedRun.ms)} ms, ${spans.length} spans`)

  // 2. CPU profile (tracing off)
  const profiled = join(work, `cpuprof-${size}`)
  medallionProject(profiled, "csv", data.ordersCsv, data.customersCsv, settings)
  const profDir = join(work, `cpuprof-${size}-out`)
  mkdirSync(profDir, { recursive: true })
  const cpuRun = await measure(profiled, ["--cpu-prof", "--cpu-prof-dir", profDir, medallionBin, "apply"])
  if (cpuRun.code !== 0) throw new Error(`profiled apply failed: ${cpuRun.stderr}`)
  const profileFile = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"))
  const cpu = profileFile === undefined ? undefined : summarizeCpu(JSON.parse(readFileSync(join(profDir, profileFile), "utf8")) as CpuProfile)
  log(`  cpu-profiled apply ${round(cpuRun.ms)} ms`)

  // 3. hand-written, with and without lineage columns
  const handRuns: Record<string, { ms: number; rss_mib: number; steps_ms: Record<string, number> }> = {}
  for (const lineage of [true, false]) {
    const dir = join(work, `hand-${size}-${lineage}`)
    mkdirSync(dir, { recursive: true })
    const r = await measure(dir, [
      join(repo, "bench", "perf", "handwritten.ts"),
      "--orders",
      data.ordersCsv,
      "--customers",
      data.customersCsv,
      "--db",
      join(dir, "warehouse.duckdb"),
      "--export",
      join(dir, GOLD_EXPORT),
      "--threads",
      String(threads),
      ...(memoryLimit === undefined ? [] : ["--memory-limit", memoryLimit]),
      ...(lineage ? [] : ["--no-lineage"])
    ])
    if (r.code !== 0) throw new Error(`hand-written failed: ${r.stderr}`)
    handRuns[lineage ? "with_lineage" : "without_lineage"] = {
      ms: round(r.ms),
      rss_mib: round(r.rssKiB / 1024),
      steps_ms: (jsonOutput(r.stdout)["steps_ms"] ?? {}) as Record<string, number>
    }
    rmSync(dir, { recursive: true, force: true })
    log(`  hand-written${lineage ? "" : " without lineage"} ${round(r.ms)} ms`)
  }
  const entry = {
    size,
    rows: data.rows,
    load_average: load,
    threads,
    memory_limit: memoryLimit ?? null,
    medallion_traced: {
      wall_ms: round(tracedRun.ms),
      rss_mib: round(tracedRun.rssKiB / 1024),
      recorded_table_seconds: Object.fromEntries((applyReport.tables ?? []).map((t) => [t.table, t.duration_seconds])),
      trace
    },
    medallion_cpu_profile: { wall_ms: round(cpuRun.ms), ...cpu },
    hand_written: handRuns
  }
  results.push(entry)

  // The report for this size.
  report.push(`### ${data.rows.toLocaleString("en-US")} rows (load average ${load.join(" ")})`, "")
  report.push(
    `medallion apply (traced): ${round(tracedRun.ms)} ms wall, ${trace.statements} SQL statements; hand-written: ${handRuns["with_lineage"]!.ms} ms (${handRuns["without_lineage"]!.ms} ms without lineage columns)`,
    ""
  )
  report.push("| medallion table | table ms | SQL statements | in SQL ms | outside SQL ms | biggest parts |", "|---|---:|---:|---:|---:|---|")
  for (const t of trace.tables) {
    report.push(
      `| ${t.table} | ${t.ms} | ${t.statements} | ${t.statement_ms} | ${t.outside_sql_ms} | ${Object.entries(t.by_kind)
        .slice(0, 4)
        .map(([k, v]) => `${k} ${round(v.ms)} ms${v.count > 1 ? ` (${v.count})` : ""}`)
        .join("; ")} |`
    )
  }
  report.push(
    `| (run, outside tables) | | ${trace.outside_tables.statements} | ${trace.outside_tables.ms} | | ${Object.entries(trace.outside_tables.by_kind)
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 3)
      .map(([k, v]) => `${k} ${round(v.ms)} ms (${v.count})`)
      .join("; ")} |`
  )
  report.push(
    "",
    `hand-written steps (ms): ${Object.entries(handRuns["with_lineage"]!.steps_ms)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`
  )
  report.push(
    `without lineage (ms): ${Object.entries(handRuns["without_lineage"]!.steps_ms)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    ""
  )
  if (cpu !== undefined) {
    report.push(
      `main-thread CPU profile of an untraced apply (${round(cpuRun.ms)} ms wall, ${cpu.total_ms} ms sampled), by kind (ms): ${Object.entries(cpu.by_kind)
        .slice(0, 8)
        .map(([k, v]) => `${k} ${v}`)
        .join("; ")}`
    )
    report.push(
      `top self time (ms): ${Object.entries(cpu.top_functions)
        .slice(0, 8)
        .map(([k, v]) => `${k} ${v}`)
        .join("; ")}`,
      ""
    )
  }
  if (!flags.keep) for (const dir of [traced, profiled, profDir]) rmSync(dir, { recursive: true, force: true })
}

sink.close()
writeFileSync(join(repo, "bench", "results", "perf-profile.json"), `${JSON.stringify({ date: new Date().toISOString(), entries: results }, null, 2)}\n`)
console.log([...report, "wrote bench/results/perf-profile.json"].join("\n"))
if (!flags.keep) rmSync(work, { recursive: true, force: true })
else log(`kept ${work}`)
removeProbe()
