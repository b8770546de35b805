/**
 * The package as a user installs it: `npm pack` (which builds the bundle), the tarball installed
 * into an empty directory (runtime dependencies only, as `.ci/package-check` does), its size on disk
 * by package, then the start-up of the installed CLI in a project made by `medallion init`:
 * `medallion --version` and `medallion validate`, each a fresh process on this Node, the first run
 * (no code cache yet) apart, then the median of N: wall time, and with GNU time the CPU time
 * (user + system) and peak RSS, which a busy machine disturbs less than the wall time.
 * Writes bench/results/installed.json.
 *
 *   node bench/installed.ts [--runs N] [--keep]
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { availableParallelism, loadavg, tmpdir, totalmem } from "node:os"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"

const repo = resolve(import.meta.dirname, "..")
const { values: flags } = parseArgs({ options: { runs: { type: "string", default: "10" }, keep: { type: "boolean", default: false } } })
const runs = Math.max(1, Number(flags.runs))
const work = mkdtempSync(join(tmpdir(), "medallion-installed-"))

const run = (command: string, args: ReadonlyArray<string>, cwd: string): string => {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${result.status}`)
  return result.stdout
}

process.stderr.write("packing (npm pack builds the bundle)\n")
const tarball = join(work, run("npm", ["pack", "--silent", "--pack-destination", work], repo).trim().split("\n").at(-1)!)
const install = join(work, "install")
mkdirSync(install)
run("npm", ["init", "-y"], install)
process.stderr.write("installing the tarball into an empty directory\n")
run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball], install)

/** Bytes of the files under dir (apparent size) and of the blocks they take on disk (what du counts). */
const sizeOf = (dir: string): { bytes: number; disk: number } => {
  let bytes = 0
  let disk = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isDirectory()) continue
    const stat = lstatSync(join(entry.parentPath, entry.name))
    bytes += stat.size
    disk += stat.blocks * 512
  }
  return { bytes, disk }
}
const modules = join(install, "node_modules")
const packages = readdirSync(modules)
  .filter((name) => !name.startsWith("."))
  .flatMap((name) => (name.startsWith("@") ? readdirSync(join(modules, name)).map((inner) => `${name}/${inner}`) : [name]))
const bySize = packages.map((name) => ({ name, ...sizeOf(join(modules, name)) })).sort((a, b) => b.disk - a.disk)
const total = sizeOf(modules)
// What du reports (and .ci/package-check prints): the files' blocks and the directories' too.
const du = spawnSync("du", ["-sk", modules], { encoding: "utf8" })
const duMb = du.status === 0 ? Math.round((Number(du.stdout.split("\t")[0]) * 1024) / 1e5) / 10 : undefined
const mb = (n: number) => Math.round(n / 1e5) / 10

// A project as `medallion init` makes it, where the timed commands run.
const cli = join(modules, "medallion", "bin", "medallion.js")
run(process.execPath, [cli, "init", "project"], work)
const project = join(work, "project")

const gnuTime = existsSync("/usr/bin/time") && spawnSync("/usr/bin/time", ["-f", "%e", "true"]).status === 0

interface Sample {
  readonly ms: number
  /** User + system CPU, and peak RSS in MiB: NaN without GNU time. */
  readonly cpuMs: number
  readonly rssMiB: number
}

/** One fresh `medallion <args>` on this Node, as the installed bin link starts it. */
const time = (args: ReadonlyArray<string>) =>
  new Promise<Sample>((done, fail) => {
    const [command, commandArgs] = gnuTime ? ["/usr/bin/time", ["-f", "%U %S %M", process.execPath, cli, ...args]] : [process.execPath, [cli, ...args]]
    const started = performance.now()
    const child = spawn(command, commandArgs, { cwd: project, stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()))
    child.on("error", fail)
    child.on("exit", (code) => {
      const ms = performance.now() - started
      if (code !== 0) return fail(new Error(`medallion ${args.join(" ")} exited ${code}: ${stderr}`))
      const m = /(\d+\.\d+) (\d+\.\d+) (\d+)\s*$/.exec(stderr)
      done({ ms, cpuMs: m === null ? Number.NaN : (Number(m[1]) + Number(m[2])) * 1000, rssMiB: m === null ? Number.NaN : Number(m[3]) / 1024 })
    })
  })
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const figures: Array<{ command: string; first_ms: number; median_ms: number; min_ms: number; max_ms: number; median_cpu_ms: number; median_rss_mib: number }> = []
for (const args of [["--version"], ["validate"]]) {
  const first = await time(args) // no code cache yet: the run that writes it
  const samples: Array<Sample> = []
  for (let i = 0; i < runs; i++) samples.push(await time(args))
  const ms = samples.map((x) => x.ms)
  figures.push({
    command: `medallion ${args.join(" ")}`,
    first_ms: Math.round(first.ms),
    median_ms: Math.round(median(ms)),
    min_ms: Math.round(Math.min(...ms)),
    max_ms: Math.round(Math.max(...ms)),
    median_cpu_ms: Math.round(median(samples.map((x) => x.cpuMs))),
    median_rss_mib: Math.round(median(samples.map((x) => x.rssMiB)))
  })
}

const version = (JSON.parse(readFileSync(join(modules, "medallion", "package.json"), "utf8")) as { version: string }).version
const result = {
  date: new Date().toISOString(),
  node: process.version,
  runs,
  cpus: availableParallelism(),
  memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  load_average: Math.round(loadavg()[0]! * 10) / 10,
  package: { version, tarball_mb: mb(statSync(tarball).size) },
  installed: { packages: packages.length, mb: mb(total.bytes), disk_mb: mb(total.disk), du_mb: duMb },
  largest: bySize.slice(0, 8).map((p) => ({ name: p.name, mb: mb(p.bytes), disk_mb: mb(p.disk) })),
  figures
}

console.log(`medallion ${version}: tarball ${result.package.tarball_mb} MB; installed ${packages.length} packages, ${result.installed.mb} MB of files (du: ${duMb ?? "?"} MB)`)
console.log("\n| package | MB | MB on disk |\n|---|---:|---:|")
for (const p of result.largest) console.log(`| ${p.name} | ${p.mb} | ${p.disk_mb} |`)
console.log(`\n| command (installed, ${process.version}) | first run ms | median ms | min ms | max ms | median CPU ms | median peak RSS MiB |\n|---|---:|---:|---:|---:|---:|---:|`)
for (const f of figures) console.log(`| \`${f.command}\` | ${f.first_ms} | ${f.median_ms} | ${f.min_ms} | ${f.max_ms} | ${f.median_cpu_ms} | ${f.median_rss_mib} |`)
writeFileSync(join(repo, "bench", "results", "installed.json"), `${JSON.stringify(result, null, 2)}\n`)
if (flags.keep) console.log(`\nkept: ${work}`)
else rmSync(work, { recursive: true, force: true })
