/**
 * Soak: the example pipelines (pipelines/*.yaml with their data, copied into a temp project)
 * applied N times in a row by `medallion apply` child processes, a new month of orders arriving
 * before some applies (a copy of an existing month with new order ids) and some applies SIGKILLed
 * at a random moment. After every apply that finished it checks the run history: no run left
 * `running`, and every recorded table balances (rows_in = rows_out + quarantined + dropped +
 * duplicates + rejected, accounting_ok). At the end, every silver and gold table equals one clean
 * apply of the final files into a fresh warehouse.
 *
 *   node bench/soak.ts [--runs 1000] [--kill-rate 0.2] [--arrival-rate 0.3] [--seed 1] [--keep]
 *
 * Prints a line every 10 runs and a summary (runs, kills, mismatches); exits 1 on any mismatch.
 */
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { applyProcess, type CrashProject, prng, withWarehouses } from "../test/support/crash.ts"
import { repoRoot } from "../test/support/project.ts"

const { values: flags } = parseArgs({
  options: {
    runs: { type: "string", default: "1000" },
    "kill-rate": { type: "string", default: "0.2" },
    "arrival-rate": { type: "string", default: "0.3" },
    seed: { type: "string", default: "1" },
    keep: { type: "boolean", default: false }
  }
})
const runs = Number(flags.runs)
const killRate = Number(flags["kill-rate"])
const arrivalRate = Number(flags["arrival-rate"])
const random = prng(Number(flags.seed))

const config = `engine: duckdb
concurrency: 2
duckdb: { path: ./.medallion/warehouse.duckdb, threads: 2 }
`

/** A project with the example pipelines and a copy of their data. */
const makeProject = (root: string, name: string): CrashProject => {
  const dir = join(root, name)
  mkdirSync(join(dir, "config"), { recursive: true })
  cpSync(join(repoRoot, "pipelines"), join(dir, "pipelines"), { recursive: true })
  for (const example of ["jaffle_shop", "retail"]) cpSync(join(repoRoot, "data", example), join(dir, "data", example), { recursive: true })
  writeFileSync(join(dir, "config", "default.yaml"), config)
  return {
    dir,
    warehouse: join(dir, ".medallion", "warehouse.duckdb"),
    landing: join(dir, "data", "retail", "orders"),
    remove: () => rmSync(dir, { recursive: true, force: true })
  }
}

const months = readdirSync(join(repoRoot, "data", "retail", "orders"))
  .filter((f) => f.endsWith(".csv"))
  .sort()

/** A new orders file: month `n % 3` of the example with every order id moved by n * 100,000. */
const arrive = (project: CrashProject, n: number) => {
  const text = readFileSync(join(repoRoot, "data", "retail", "orders", months[n % months.length]!), "utf8")
  const moved = text.split("\n").map((line, i) => {
    if (i === 0) return line
    const comma = line.indexOf(",")
    const id = line.slice(0, comma)
    return /^\d+$/.test(id) ? `${Number(id) + n * 100_000}${line.slice(comma)}` : line
  })
  writeFileSync(join(project.landing, `orders_new_${String(n).padStart(4, "0")}.csv`), moved.join("\n"))
}

const sqlText = (s: string) => `'${s.replaceAll("'", "''")}'`

/** The run history's violations: runs left `running`, tables that do not balance. */
const checkHistory = (warehouse: string) =>
  withWarehouses([warehouse], async (query) => {
    const found: Array<string> = []
    const running = await query("SELECT batch_id FROM w0._medallion.runs WHERE status = 'running'")
    for (const r of running) found.push(`run ${String(r["batch_id"])} is still running`)
    const unbalanced = await query(`SELECT batch_id, table_id, rows_in, rows_out, quarantined, dropped, duplicates, rejected, accounting_ok
      FROM w0._medallion.run_tables
      WHERE status = 'succeeded' AND (rows_in <> rows_out + quarantined + dropped + duplicates + rejected OR NOT accounting_ok)`)
    for (const r of unbalanced) found.push(`run ${String(r["batch_id"])} ${String(r["table_id"])} does not balance: ${JSON.stringify(r)}`)
    const statuses = await query("SELECT status, count(*)::INTEGER AS n FROM w0._medallion.runs GROUP BY 1")
    return { found, statuses: Object.fromEntries(statuses.map((r) => [String(r["status"]), Number(r["n"])])) }
  })

/** Every silver and gold table of the two warehouses, compared row for row (lineage columns aside). */
const compareTables = (left: string, right: string) =>
  withWarehouses([left, right], async (query) => {
    const found: Array<string> = []
    const tables = await query(`SELECT table_schema AS s, table_name AS t FROM information_schema.tables
      WHERE table_catalog = 'w1' AND table_schema IN ('silver', 'gold') AND table_type = 'BASE TABLE' ORDER BY 1, 2`)
    for (const { s, t } of tables) {
      const id = `${String(s)}."${String(t)}"`
      const columns = (
        await query(`SELECT column_name AS c FROM information_schema.columns
        WHERE table_catalog = 'w1' AND table_schema = ${sqlText(String(s))} AND table_name = ${sqlText(String(t))} ORDER BY ordinal_position`)
      )
        .map((r) => String(r["c"]))
        .filter((c) => !["_batch_id", "_ingested_at", "_quarantine_batch_id", "_quarantined_at"].includes(c))
      const list = columns.map((c) => (c === "_source_file" ? `regexp_extract("${c}", '[^/\\\\]+$')` : `"${c}"`)).join(", ")
      const diff = await query(`SELECT count(*)::INTEGER AS n FROM ((SELECT ${list} FROM w0.${id} EXCEPT ALL SELECT ${list} FROM w1.${id})
        UNION ALL (SELECT ${list} FROM w1.${id} EXCEPT ALL SELECT ${list} FROM w0.${id}))`)
      const n = Number(diff[0]?.["n"])
      if (n !== 0) found.push(`${id}: ${n} row(s) differ from a clean apply`)
    }
    return { found, tables: tables.length }
  })

const root = mkdtempSync(join(tmpdir(), "medallion-soak-"))
const project = makeProject(root, "soak")
const started = performance.now()
let kills = 0
let arrivals = 0
let applied = 0
let typicalMs = 2_000
const mismatches: Array<string> = []
let statuses: Record<string, number> = {}
try {
  for (let run = 1; run <= runs; run++) {
    if (run > 1 && random.chance(arrivalRate)) arrive(project, ++arrivals)
    const kill = run > 1 && random.chance(killRate) ? random.int(50, Math.round(typicalMs * 1.2)) : undefined
    const result = await applyProcess(project, kill)
    if (result.killed) {
      kills++
    } else {
      applied++
      if (kill === undefined) typicalMs = typicalMs * 0.8 + result.ms * 0.2
      if (result.code !== 0) mismatches.push(`run ${run}: apply exited ${result.code ?? result.signal}: ${result.stderr.trim().split("\n").slice(-3).join(" | ")}`)
      const history = await checkHistory(project.warehouse)
      statuses = history.statuses
      mismatches.push(...history.found.map((f) => `run ${run}: ${f}`))
    }
    if (run % 10 === 0 || run === runs) {
      console.log(
        `${run} runs, ${kills} killed, ${arrivals} new files, ${mismatches.length} mismatch(es), history ${JSON.stringify(statuses)}, ${Math.round((performance.now() - started) / 1000)} s`
      )
    }
  }
  // A killed last run is finished by one more apply before the comparison.
  const last = await applyProcess(project)
  if (last.code !== 0) mismatches.push(`final apply exited ${last.code ?? last.signal}`)
  mismatches.push(...(await checkHistory(project.warehouse)).found.map((f) => `final: ${f}`))
  const clean = makeProject(root, "clean")
  for (const f of readdirSync(project.landing)) copyFileSync(join(project.landing, f), join(clean.landing, f))
  const reference = await applyProcess(clean)
  if (reference.code !== 0) mismatches.push(`the clean apply exited ${reference.code ?? reference.signal}`)
  const compared = await compareTables(project.warehouse, clean.warehouse)
  mismatches.push(...compared.found)
  console.log(
    `soak: ${runs} runs (${applied} finished, ${kills} SIGKILLed), ${arrivals} new files, history ${JSON.stringify(statuses)}, ` +
      `${compared.tables} silver and gold tables compared with a clean apply, ${mismatches.length} mismatch(es), ${Math.round((performance.now() - started) / 1000)} s`
  )
  for (const m of mismatches) console.log(`  ${m}`)
} finally {
  if (flags.keep && mismatches.length > 0) console.log(`kept ${root}`)
  else rmSync(root, { recursive: true, force: true })
}
process.exitCode = mismatches.length === 0 ? 0 : 1
