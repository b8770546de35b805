/**
 * Runs a generated case through the real engine in-process (the Effect program `medallion apply`
 * runs, on a DuckDB file in a temp project) and compares the warehouse with the reference model:
 * after applying the arrivals one by one, after an `--full-refresh` of that warehouse, and after one
 * `--full-refresh` of the final files into a fresh warehouse; or through `medallion apply` child
 * processes killed at chosen moments.
 */
import { copyFileSync, mkdirSync } from "node:fs"
import { join } from "node:path"
import { Effect, References } from "effect"
import type { RunReport } from "../../src/runtime/Runner.ts"
import { type Applied, applyProcess, withWarehouses } from "../support/crash.ts"
import { engine, makeProject, planOf, rows, runPlan, type TestProject } from "../support/project.ts"
import { pipelineYaml } from "./arbitraries.ts"
import { type Case, csvText, expectedAfter, finalFiles } from "./model.ts"
import { canonicalState, type Failed, land, readState, writeProject } from "./warehouse.ts"

const failedIn = (report: RunReport): Failed => Object.fromEntries(report.tables.map((t) => [t.table, t.status === "failed" || t.status === "skipped"]))

/** A failed table whose failure the model does not expect, with its error (for the message). */
const errors = (report: RunReport) => report.tables.filter((t) => t.status === "failed").map((t) => `${t.table}: ${t.error ?? t.reason ?? ""}`)

export interface Observed {
  readonly stage: string
  readonly actual: ReturnType<typeof canonicalState>
  readonly expected: ReturnType<typeof canonicalState>
  readonly errors: ReadonlyArray<string>
}

/**
 * The engine a case runs on, a real DuckDB file per warehouse, with one DuckDB thread: a case's
 * tables hold a few rows, so a second thread has nothing to share and only adds hand-offs (about a
 * sixth of a case's CPU).
 */
const caseEngine = (project: TestProject) => engine(project, { threads: 1 })

/**
 * A warehouse whose metadata store is set up, made once per process and copied into each case's
 * project: creating the store's tables cost about a seventh of a case (twice per case), and what a
 * case checks starts after it (store-upgrade.test.ts and every other test create stores).
 */
let template: string | undefined
const setUpWarehouse = (dir: string): Effect.Effect<void> =>
  Effect.gen(function* () {
    if (template === undefined) {
      const made = makeProject()
      process.once("exit", made.remove)
      yield* Effect.provide(Effect.void, caseEngine(made)).pipe(Effect.orDie)
      template = warehouseOf(made.dir)
    }
    mkdirSync(join(dir, ".medallion"), { recursive: true })
    copyFileSync(template, warehouseOf(dir))
  })
const warehouseOf = (dir: string) => join(dir, ".medallion", "warehouse.duckdb")

/**
 * Once a warehouse is compared it is deleted: DuckDB's checkpoint when it closes (~40 ms of CPU on
 * the main thread, writing every table into the file) would write a file nobody reads again.
 */
const closeWithoutCheckpoint = rows("PRAGMA disable_checkpoint_on_shutdown")

/**
 * The states to compare, stage by stage: incremental, full refresh in place, full refresh fresh.
 * The fresh warehouse is built while the incremental one goes through its arrivals (each on its
 * own DuckDB file, in its own project). Tables' outcomes are not logged (a failure the model does
 * not expect is in the observed errors).
 */
export const runCase = (c: Case, options: { readonly sourceRow: boolean }): Effect.Effect<ReadonlyArray<Observed>, unknown> =>
  Effect.gen(function* () {
    const plan = planOf(pipelineYaml(c.pipeline))
    const expected = canonicalState(expectedAfter(c), options)
    const incremental = Effect.acquireUseRelease(
      Effect.gen(function* () {
        const project = makeProject()
        writeProject(project.dir, c)
        yield* setUpWarehouse(project.dir)
        return project
      }),
      (project) =>
        Effect.gen(function* () {
          let report: RunReport | undefined
          for (const arrival of c.arrivals) {
            land(project.dir, arrival)
            report = yield* runPlan(project, plan)
          }
          const applied: Observed = { stage: "incremental", actual: canonicalState(yield* readState(c, rows, failedIn(report!)), options), expected, errors: errors(report!) }
          const refresh = yield* runPlan(project, plan, [], { fullRefresh: true })
          const refreshed: Observed = {
            stage: "full refresh in place",
            actual: canonicalState(yield* readState(c, rows, failedIn(refresh)), options),
            expected,
            errors: errors(refresh)
          }
          yield* closeWithoutCheckpoint
          return [applied, refreshed]
        }).pipe(Effect.provide(caseEngine(project))),
      (project) => Effect.sync(project.remove)
    )
    const fresh = Effect.acquireUseRelease(
      Effect.gen(function* () {
        const project = makeProject()
        writeProject(project.dir, c)
        land(project.dir, { write: finalFiles(c.arrivals), remove: [] })
        yield* setUpWarehouse(project.dir)
        return project
      }),
      (project) =>
        Effect.gen(function* () {
          const once = canonicalState(expectedAfter(c, [{ write: finalFiles(c.arrivals), remove: [] }]), options)
          const report = yield* runPlan(project, plan, [], { fullRefresh: true })
          const observed: Observed = {
            stage: "full refresh of the final files, fresh warehouse",
            actual: canonicalState(yield* readState(c, rows, failedIn(report)), options),
            expected: once,
            errors: errors(report)
          }
          yield* closeWithoutCheckpoint
          return [observed]
        }).pipe(Effect.provide(caseEngine(project))),
      (project) => Effect.sync(project.remove)
    )
    const [applied, once] = yield* Effect.all([incremental, fresh], { concurrency: 2 })
    return [...applied, ...once]
  }).pipe(Effect.provideService(References.MinimumLogLevel, "None"))

/** A case as a person reproduces it: the pipeline YAML, then each arrival's files and removals. */
export const describeCase = (c: Case): string =>
  [
    "pipelines/prop.yaml:",
    pipelineYaml(c.pipeline),
    ...c.arrivals.flatMap((a, i) => [
      `-- arrival ${i + 1}, then apply${a.remove.length > 0 ? ` (remove ${a.remove.join(", ")})` : ""}`,
      ...a.write.map((f) => `data/in/${f.name}${f.crlf ? " (CRLF)" : ""}:\n${csvText(f).replaceAll("\r\n", "\n").trimEnd()}`)
    ])
  ].join("\n")

/** What differs between the warehouse and the model, table by table: rows extra and rows missing. */
export const differences = (o: Observed): ReadonlyArray<string> => {
  const out: Array<string> = []
  const rowsDiff = (what: string, actual: ReadonlyArray<string>, expected: ReadonlyArray<string>) => {
    const left = [...expected]
    const extra: Array<string> = []
    for (const r of actual) {
      const i = left.indexOf(r)
      if (i === -1) extra.push(r)
      else left.splice(i, 1)
    }
    if (extra.length > 0 || left.length > 0) out.push(`${what}: ${actual.length} rows (model ${expected.length}); extra ${extra.join(" ")}; missing ${left.join(" ")}`)
  }
  const table = (name: string, a: Observed["actual"]["gold"], e: Observed["expected"]["gold"]) => {
    if (a.exists !== e.exists || a.failed !== e.failed) out.push(`${name}: exists ${a.exists}, failed ${a.failed} (model: exists ${e.exists}, failed ${e.failed})`)
    rowsDiff(name, a.rows, e.rows)
    rowsDiff(`${name}__quarantine`, a.quarantine, e.quarantine)
  }
  rowsDiff("bronze.raw", o.actual.bronze, o.expected.bronze)
  for (const [name, e] of Object.entries(o.expected.silver)) table(`silver.${name}`, o.actual.silver[name]!, e)
  table("gold.totals", o.actual.gold, o.expected.gold)
  return out.map((d) => `${o.stage}: ${d}`)
}

/**
 * The same case through real `medallion apply` child processes: each arrival is applied once with
 * a SIGKILL after the given delay (none: not killed), then applied again to completion; the final
 * warehouse is compared with the model. Returns the differences and how many applies were killed.
 */
export const runCaseKilled = async (c: Case, kills: ReadonlyArray<number | undefined>, options: { readonly sourceRow: boolean }) => {
  const project = makeProject()
  const warehouse = warehouseOf(project.dir)
  const crashProject = { dir: project.dir, warehouse, landing: join(project.dir, "data", "in"), remove: project.remove }
  try {
    writeProject(project.dir, c)
    let killed = 0
    let last: Applied | undefined
    for (const [i, arrival] of c.arrivals.entries()) {
      land(project.dir, arrival)
      const delay = kills[i % Math.max(1, kills.length)]
      if (delay !== undefined && (await applyProcess(crashProject, delay)).killed) killed++
      last = await applyProcess(crashProject, undefined, ["--json"])
      if (last.code !== 0 && last.code !== 1)
        return { killed, differences: [`apply after arrival ${i + 1} exited ${last.code ?? last.signal}: ${last.stderr.trim().split("\n").slice(-3).join(" | ")}`] }
    }
    const report = JSON.parse(last!.stdout) as RunReport
    const actual = await withWarehouses([warehouse], (query) =>
      Effect.runPromise(Effect.promise(() => query("USE w0")).pipe(Effect.andThen(readState(c, (sql) => Effect.promise(() => query(sql)), failedIn(report)))))
    )
    return {
      killed,
      differences: differences({
        stage: `applied with ${killed} kill(s)`,
        actual: canonicalState(actual, options),
        expected: canonicalState(expectedAfter(c), options),
        errors: errors(report)
      })
    }
  } finally {
    project.remove()
  }
}
