/** Shared by run.ts and profile.ts: measuring one fresh process, and a medallion project for the workload. */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { availableParallelism, cpus, platform, release, tmpdir, totalmem } from "node:os"
import { join, resolve } from "node:path"
import { configYaml, type EngineSettings, pipelineYaml } from "./workload.ts"

export const repo = resolve(import.meta.dirname, "..", "..")
/** The CLI as users start it: bin/medallion.js runs the bundle in dist/ (see bench/build.ts). */
export const medallionBin = join(repo, "bin", "medallion.js")

export interface Measured {
  readonly ms: number
  /** Peak resident set size in KiB (NaN when unknown). */
  readonly rssKiB: number
  readonly code: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
}

export const timeBinary = existsSync("/usr/bin/time") && spawnSync("/usr/bin/time", ["-f", "%e %M", "true"]).status === 0 ? "/usr/bin/time" : undefined
// Without GNU time, a preloaded module reports the child's own peak RSS when it exits.
const probe = join(tmpdir(), `medallion-perf-rss-${process.pid}.mjs`)
if (timeBinary === undefined) {
  writeFileSync(
    probe,
    `import { writeFileSync } from "node:fs"\nprocess.on("exit", () => { if (process.env.MEDALLION_BENCH_RSS) writeFileSync(process.env.MEDALLION_BENCH_RSS, String(process.resourceUsage().maxRSS)) })\n`
  )
}
export const removeProbe = () => rmSync(probe, { force: true })

/** The machine a benchmark ran on, for its results file. */
export const machineInfo = () => ({
  cpus: availableParallelism(),
  cpu_model: cpus()[0]?.model ?? "unknown",
  memory_gib: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
  platform: `${platform()} ${release()}`,
  node: process.version
})
const cleanEnv: Record<string, string> = Object.fromEntries(
  Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !e[0].startsWith("OTEL_") && !e[0].startsWith("MEDALLION_"))
)

/** Runs `node <args>` in `cwd`: wall time measured here, peak RSS by GNU time (or the probe). */
export const measure = (cwd: string, args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Measured> =>
  new Promise((done, fail) => {
    const rssFile = join(tmpdir(), `medallion-perf-rss-${process.pid}-${Date.now()}`)
    const [command, commandArgs] = timeBinary !== undefined ? [timeBinary, ["-f", "%e %M", process.execPath, ...args]] : [process.execPath, ["--import", probe, ...args]]
    const started = performance.now()
    const child = spawn(command, commandArgs, { cwd, env: { ...cleanEnv, NO_COLOR: "1", MEDALLION_BENCH_RSS: rssFile, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()))
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()))
    child.on("error", fail)
    child.on("close", (code, signal) => {
      const ms = performance.now() - started
      let rssKiB = Number.NaN
      if (timeBinary !== undefined) {
        const lines = stderr.trimEnd().split("\n")
        const m = /(\d+(?:\.\d+)?) (\d+)$/.exec(lines.at(-1) ?? "")
        if (m !== null) {
          rssKiB = Number(m[2])
          lines.pop()
          stderr = lines.join("\n")
        }
      } else if (existsSync(rssFile)) {
        rssKiB = Number(readFileSync(rssFile, "utf8"))
        rmSync(rssFile, { force: true })
      }
      // GNU time exits with the child's status; a signal shows as "Command terminated by signal N".
      const killed = /Command terminated by signal (\d+)/.exec(stderr)
      done({ ms, rssKiB, code: killed !== null ? null : code, signal: killed !== null ? `signal ${killed[1]}` : signal, stdout, stderr })
    })
  })

/** The JSON a variant printed: the whole output (medallion's pretty-printed report) or its last line. */
export const jsonOutput = (stdout: string): Record<string, unknown> => {
  const text = stdout.trim()
  if (text.startsWith("{")) return JSON.parse(text) as Record<string, unknown>
  const line = text
    .split("\n")
    .reverse()
    .find((l) => l.startsWith("{"))
  return line === undefined ? {} : (JSON.parse(line) as Record<string, unknown>)
}

/** A fresh medallion project in `dir`: the workload's pipeline, a config, the data files linked in. */
export const medallionProject = (dir: string, format: "csv" | "parquet", orders: string, customers: string, settings: EngineSettings) => {
  for (const sub of ["pipelines", "config", "data"]) mkdirSync(join(dir, sub), { recursive: true })
  writeFileSync(join(dir, "pipelines", "perf.yaml"), pipelineYaml(format))
  writeFileSync(join(dir, "config", "default.yaml"), configYaml(settings))
  symlinkSync(orders, join(dir, "data", `orders.${format}`))
  symlinkSync(customers, join(dir, "data", `customers.${format}`))
}

/** A medallion `apply --json` report, as far as the suite reads it. */
export interface ApplyReport {
  readonly run?: { readonly status?: string; readonly batch_id?: string }
  readonly tables?: ReadonlyArray<{
    readonly table: string
    readonly status: string
    readonly duration_seconds: number
    readonly accounting_ok: boolean
    readonly error: string | null
    readonly rows_in: number
    readonly rows_out: number
  }>
}
