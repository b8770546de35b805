/**
 * Test support: a throwaway project directory with pipelines and data, the engine layers on a
 * real DuckDB file inside it, and the CLI as a real child process.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Layer, Result } from "effect"
import * as DuckDbExecutor from "../../src/executor/DuckDbExecutor.ts"
import { Executor, type Row } from "../../src/executor/Executor.ts"
import * as SqlMetadataStore from "../../src/metadata/SqlMetadataStore.ts"
import { buildPlan, type Plan } from "../../src/plan/Plan.ts"
import { selectTables } from "../../src/plan/select.ts"
import { apply } from "../../src/runtime/Runner.ts"
import { parsePipeline } from "../../src/spec/parse.ts"

export const repoRoot = resolve(import.meta.dirname, "..", "..")

/** Whether bin/medallion.js runs the bundle in dist/: it does when the bundle is at least as new as every file under src/. */
export const bundleIsFresh = (): boolean => {
  const bundle = join(repoRoot, "dist", "medallion.cjs")
  if (!existsSync(bundle)) return false
  const built = statSync(bundle).mtimeMs
  return readdirSync(join(repoRoot, "src"), { withFileTypes: true, recursive: true }).every((e) => !e.isFile() || statSync(join(e.parentPath, e.name)).mtimeMs <= built)
}

export interface TestProject {
  readonly dir: string
  readonly write: (file: string, text: string) => void
  readonly remove: () => void
}

/** A fresh project directory with the given files (paths relative to it). */
export const makeProject = (files: Readonly<Record<string, string>> = {}): TestProject => {
  const dir = mkdtempSync(join(tmpdir(), "medallion-test-"))
  const write = (file: string, text: string) => {
    mkdirSync(dirname(join(dir, file)), { recursive: true })
    writeFileSync(join(dir, file), text)
  }
  for (const [file, text] of Object.entries(files)) write(file, text)
  return { dir, write, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Parse and plan pipeline texts; throws on spec errors (tests of errors use parsePipeline directly). */
export const planOf = (...texts: ReadonlyArray<string>): Plan => {
  const parsed = texts.map((text, i) => {
    const r = parsePipeline(`pipeline${i}.yaml`, text)
    if (Result.isFailure(r)) throw new Error(r.failure.message)
    return r.success
  })
  const plan = buildPlan(parsed)
  if (Result.isFailure(plan)) throw new Error(plan.failure.message)
  return plan.success
}

/** Executor and metadata store on a real DuckDB file in the project (two DuckDB threads unless told). */
export const engine = (project: TestProject, options: { readonly threads?: number } = {}) =>
  Layer.provideMerge(SqlMetadataStore.layer, DuckDbExecutor.layer({ path: join(project.dir, ".medallion", "warehouse.duckdb"), threads: options.threads ?? 2 })).pipe(
    Layer.provideMerge(NodeServices.layer)
  )

/** Run the pipelines (all tables, or the selected ones) and return the report. */
export const runPlan = (project: TestProject, plan: Plan, select: ReadonlyArray<string> = [], options: { readonly fullRefresh?: boolean; readonly concurrency?: number } = {}) =>
  Effect.gen(function* () {
    const selected = selectTables(plan, select)
    if (Result.isFailure(selected)) return yield* Effect.die(selected.failure)
    return yield* apply(plan, {
      projectDir: project.dir,
      env: "test",
      selected: selected.success,
      concurrency: options.concurrency ?? 2,
      fullRefresh: options.fullRefresh === true ? selected.success : new Set()
    })
  })

/** Rows of a query, ordered as written. */
export const rows = (sql: string) =>
  Effect.gen(function* () {
    const executor = yield* Executor
    return yield* executor.withSession((s) => s.query(sql))
  })

export type { Row }

/** Runs the CLI as a child process in `cwd`, on the same runtime as the tests (Node or Deno). */
/** The arguments that start the CLI with `process.execPath`: Node runs main.ts, Deno needs `run -A`. */
export const cliArgs = (args: ReadonlyArray<string>): Array<string> => {
  const main = join(repoRoot, "src", "main.ts")
  return "Deno" in globalThis ? ["run", "-A", `--config=${join(repoRoot, "deno.json")}`, main, ...args] : [main, ...args]
}

export const cli = (cwd: string, args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) => {
  const result = spawnSync(process.execPath, cliArgs(args), { cwd, env: { ...process.env, ...env, NO_COLOR: "1" }, encoding: "utf8", timeout: 120_000 })
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr }
}
