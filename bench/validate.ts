/**
 * How `medallion validate` scales with the size of a spec: N tables of a realistic shape (per
 * group of three: a CSV source with its bronze table, a silver table that casts, dedupes and
 * checks, a gold table that aggregates it, with one file of data per source) written to a
 * temporary project, then `node src/main.ts validate` timed on it: without the SQL check (with and
 * without the data check), and with it (every table's SQL bound over empty tables) for the sizes up
 * to `--sql-up-to` (it costs some 10 ms of CPU a table).
 *
 *   node bench/validate.ts [--sizes 6000,24000,71000] [--files 1] [--runs 1] [--sql-up-to 6000] [--cli src/main.ts] [--keep]
 *
 * `--files K` spreads the tables over K pipeline files; `--cli` runs another checkout's entry
 * point (for a before/after comparison; a CLI without --no-data-check gets a dash there, and one
 * without the SQL check runs plain `validate` in its columns). Wall time, and the CPU time (user + system) and peak
 * memory of the process from /usr/bin/time: on a shared machine the CPU time is the steadier figure.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"

const { values: flags } = parseArgs({
  options: {
    sizes: { type: "string", default: "6000,24000,71000" },
    files: { type: "string", default: "1" },
    runs: { type: "string", default: "1" },
    cli: { type: "string", default: resolve(import.meta.dirname, "..", "src", "main.ts") },
    keep: { type: "boolean", default: false },
    "sql-up-to": { type: "string", default: "6000" }
  }
})
const sqlUpTo = Number(flags["sql-up-to"])
const sizes = flags.sizes.split(",").map(Number)
const fileCount = Math.max(1, Number(flags.files))
const runs = Math.max(1, Number(flags.runs))
const main = resolve(flags.cli)

/** One pipeline file holding groups [from, to) of three tables each. */
const pipeline = (index: number, from: number, to: number): string => {
  const sources: Array<string> = []
  const bronze: Array<string> = []
  const silver: Array<string> = []
  const gold: Array<string> = []
  for (let g = from; g < to; g++) {
    sources.push(`  src_${g}: { format: csv, path: data/src_${g}/*.csv }`)
    bronze.push(`  raw_${g}: { from: src_${g} }`)
    silver.push(
      [
        `  clean_${g}:`,
        `    from: bronze.raw_${g}`,
        `    transforms:`,
        `      - cast: { columns: { id: bigint, amount: "decimal(12,2)", at: timestamp }, on_error: quarantine }`,
        `      - dedupe: { keys: [id], order_by: _ingested_at desc }`,
        `      - trim: [name]`,
        `    expect:`,
        `      - { not_null: [id], on_fail: drop }`,
        `      - { name: positive_amount, check: amount >= 0, on_fail: quarantine }`
      ].join("\n")
    )
    gold.push(
      [
        `  daily_${g}:`,
        `    from: silver.clean_${g}`,
        `    transforms:`,
        `      - window: { column: at, every: 1 day, as: day }`,
        `      - aggregate: { by: [day], metrics: { revenue: sum(amount), orders: count(*) } }`
      ].join("\n")
    )
  }
  return [`version: 1`, `pipeline: bench_${index}`, `sources:`, ...sources, `bronze:`, ...bronze, `silver:`, ...silver, `gold:`, ...gold, ""].join("\n")
}

console.log(`${main}; ${fileCount} pipeline file(s); median of ${runs}; wall s / CPU s / peak MB\n`)
console.log("| tables | validate --no-sql-check | validate --no-sql-check --no-data-check | validate (with the SQL check) |")
console.log("|---:|---:|---:|---:|")
for (const size of sizes) {
  const dir = mkdtempSync(join(tmpdir(), "medallion-validate-"))
  try {
    const groups = Math.ceil(size / 3)
    const perFile = Math.ceil(groups / fileCount)
    mkdirSync(join(dir, "pipelines"))
    for (let f = 0; f * perFile < groups; f++) {
      writeFileSync(join(dir, "pipelines", `bench_${f}.yaml`), pipeline(f, f * perFile, Math.min(groups, (f + 1) * perFile)))
    }
    for (let g = 0; g < groups; g++) {
      mkdirSync(join(dir, "data", `src_${g}`), { recursive: true })
      writeFileSync(join(dir, "data", `src_${g}`, "2026-12.csv"), "id,amount,at,name\n1,2.50,2026-12-01T10:00:00Z,a\n")
    }
    const time = (args: ReadonlyArray<string>) => {
      const runsOf: Array<{ wall: number; cpu: number; mb: number }> = []
      for (let r = 0; r < runs; r++) {
        const started = performance.now()
        const result = spawnSync("/usr/bin/time", ["-f", "%U %S %M", process.execPath, main, "validate", ...args], { cwd: dir, encoding: "utf8", maxBuffer: 1 << 30 })
        const wall = (performance.now() - started) / 1000
        if (result.status !== 0) throw new Error(`validate exited ${result.status}:\n${result.stderr.slice(0, 2000)}`)
        const [user, system, kb] = result.stderr.trim().split("\n").at(-1)!.split(" ").map(Number)
        runsOf.push({ wall, cpu: user! + system!, mb: kb! / 1024 })
      }
      const m = runsOf.toSorted((a, b) => a.wall - b.wall)[Math.floor(runs / 2)]!
      return `${m.wall.toFixed(1)} / ${m.cpu.toFixed(1)} / ${m.mb.toFixed(0)}`
    }
    const help = spawnSync(process.execPath, [main, "validate", "--help"], { encoding: "utf8" }).stdout
    const noSql = help.includes("sql-check") ? ["--no-sql-check"] : []
    const withSql = noSql.length > 0 && groups * 3 <= sqlUpTo ? time([]) : "-"
    console.log(`| ${(groups * 3).toLocaleString("en")} | ${time(noSql)} | ${help.includes("data-check") ? time([...noSql, "--no-data-check"]) : "-"} | ${withSql} |`)
  } finally {
    if (flags.keep) console.log(`kept ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
  }
}
