/**
 * What the SQL check costs `medallion validate` on the example pipelines: `validate` (which binds
 * every table's SQL over empty tables on a scratch in-memory DuckDB) against `validate
 * --no-sql-check`, each a fresh process of the CLI as users start it (bin/medallion.js, the bundle,
 * rebuilt first), alternated round by round so both see the same load. Wall time measured around
 * the spawn, CPU time (user + system) and peak memory from /usr/bin/time; medians, with min-max.
 *
 *   node bench/validate-sql.ts [--runs 21]
 */
import { spawnSync } from "node:child_process"
import { cpSync, mkdtempSync, rmSync } from "node:fs"
import { availableParallelism, cpus, tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"
import { buildBundle } from "./build.ts"

const repo = resolve(import.meta.dirname, "..")
const main = join(repo, "bin", "medallion.js")
const { values: flags } = parseArgs({ options: { runs: { type: "string", default: "21" } } })
const runs = Math.max(1, Number(flags.runs))
buildBundle(repo)

const project = mkdtempSync(join(tmpdir(), "medallion-validate-sql-"))
for (const dir of ["pipelines", "data", "config"]) cpSync(join(repo, dir), join(project, dir), { recursive: true })

interface Run {
  readonly wall: number
  readonly cpu: number
  readonly mb: number
}

const once = (args: ReadonlyArray<string>): Run => {
  const started = performance.now()
  const result = spawnSync("/usr/bin/time", ["-f", "%U %S %M", process.execPath, main, "validate", ...args], { cwd: project, encoding: "utf8" })
  const wall = performance.now() - started
  if (result.status !== 0) throw new Error(`validate ${args.join(" ")} exited ${result.status}:\n${result.stdout}${result.stderr}`)
  const [user, system, kb] = result.stderr.trim().split("\n").at(-1)!.split(" ").map(Number)
  return { wall, cpu: (user! + system!) * 1000, mb: kb! / 1024 }
}

const variants = [
  ["with the SQL check", []],
  ["--no-sql-check", ["--no-sql-check"]]
] as const
try {
  // Warm the code cache (bin/run-bundle.js keeps one per subcommand) and check both succeed.
  for (const [, args] of variants) once(args)
  const measured = new Map<string, Array<Run>>(variants.map(([name]) => [name, []]))
  for (let r = 0; r < runs; r++) for (const [name, args] of variants) measured.get(name)!.push(once(args))
  const median = (xs: ReadonlyArray<number>) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const range = (xs: ReadonlyArray<number>) => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`
  console.log(`${cpus()[0]?.model ?? "cpu"} x${availableParallelism()}, Node ${process.version}; example pipelines (18 tables); ${runs} rounds\n`)
  console.log("| validate | wall ms, median (min-max) | CPU ms, median (min-max) | peak MB |")
  console.log("|---|---:|---:|---:|")
  for (const [name, results] of measured) {
    const wall = results.map((x) => x.wall)
    const cpu = results.map((x) => x.cpu)
    console.log(`| ${name} | ${median(wall).toFixed(0)} (${range(wall)}) | ${median(cpu).toFixed(0)} (${range(cpu)}) | ${median(results.map((x) => x.mb)).toFixed(0)} |`)
  }
} finally {
  rmSync(project, { recursive: true, force: true })
}
