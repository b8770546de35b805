/**
 * Support for the example tests: a throwaway project holding copies of the shipped example
 * pipelines and their data, the plan of its pipelines, the accounting invariant and gold snapshots.
 */
import { cpSync, readdirSync, readFileSync } from "node:fs"
import { join, relative, sep } from "node:path"
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import type { RunReport } from "../../src/runtime/Runner.ts"
import { makeProject, planOf, repoRoot, type Row, rows, type TestProject } from "../support/project.ts"

/**
 * A temp project with the given example pipelines (file names in pipelines/) and a copy of data/;
 * `skipData` leaves out files by their path relative to data/, with forward slashes.
 */
export const exampleProject = (pipelines: ReadonlyArray<string>, skipData: (file: string) => boolean = () => false): TestProject => {
  const project = makeProject()
  for (const file of pipelines) cpSync(join(repoRoot, "pipelines", file), join(project.dir, "pipelines", file))
  const data = join(repoRoot, "data")
  cpSync(data, join(project.dir, "data"), {
    recursive: true,
    filter: (source) => !skipData(relative(data, source).split(sep).join("/"))
  })
  return project
}

/** The plan of every pipeline in the project's pipelines/ folder. */
export const examplePlan = (project: TestProject) => {
  const folder = join(project.dir, "pipelines")
  return planOf(
    ...readdirSync(folder)
      .toSorted()
      .map((file) => readFileSync(join(folder, file), "utf8"))
  )
}

/** A path inside the project, as a SQL string literal. */
export const sqlPath = (project: TestProject, ...parts: ReadonlyArray<string>) =>
  `'${join(project.dir, ...parts)
    .split(sep)
    .join("/")
    .replaceAll("'", "''")}'`

/** Every table succeeded, balances (in = out + quarantined + dropped + duplicates + rejected) and says so. */
export const assertAccounting = (report: RunReport) => {
  assert.strictEqual(
    report.run.status,
    "succeeded",
    report.tables
      .filter((t) => t.error !== null)
      .map((t) => `${t.table}: ${t.error}`)
      .join("\n")
  )
  for (const t of report.tables) {
    assert.include(["succeeded", "unchanged"], t.status, `${t.table}: ${t.error}`)
    assert.strictEqual(t.rows_in, t.rows_out + t.quarantined + t.dropped + t.duplicates + t.rejected, `${t.table}: rows do not balance`)
    assert.strictEqual(
      t.dropped,
      Object.values(t.dropped_by_reason).reduce((a, b) => a + b, 0),
      `${t.table}: dropped by reason`
    )
    assert.isTrue(t.accounting_ok, `${t.table}: accounting_ok`)
  }
}

export interface Counts {
  readonly rows_in: number
  readonly rows_out: number
  readonly quarantined?: number
  readonly dropped?: number
  readonly duplicates?: number
  readonly rejected?: number
}

/** The counts of each table in the report, in the shape of `expected` (absent counts are 0). */
export const countsOf = (report: RunReport) =>
  Object.fromEntries(
    report.tables.map((t) => [
      t.table,
      {
        rows_in: t.rows_in,
        rows_out: t.rows_out,
        quarantined: t.quarantined,
        dropped: t.dropped,
        duplicates: t.duplicates,
        rejected: t.rejected
      }
    ])
  )

export const withZeros = (expected: Readonly<Record<string, Counts>>) =>
  Object.fromEntries(
    Object.entries(expected).map(([table, c]) => [
      table,
      {
        rows_in: c.rows_in,
        rows_out: c.rows_out,
        quarantined: c.quarantined ?? 0,
        dropped: c.dropped ?? 0,
        duplicates: c.duplicates ?? 0,
        rejected: c.rejected ?? 0
      }
    ])
  )

/** The failed count of each expectation of a table, by name. */
export const expectationFailures = (report: RunReport, table: string) =>
  Object.fromEntries((report.tables.find((t) => t.table === table)?.expectations ?? []).map((e) => [e.expectation, e.failed]))

/** Every gold table (and view) with all its rows, sorted by all columns. */
export const goldSnapshot = Effect.gen(function* () {
  const tables = yield* rows("SELECT table_name FROM information_schema.tables WHERE table_schema = 'gold' ORDER BY 1")
  const snapshot: Record<string, ReadonlyArray<Row>> = {}
  for (const { table_name } of tables) snapshot[String(table_name)] = yield* rows(`SELECT * FROM gold."${String(table_name)}" ORDER BY ALL`)
  return snapshot
})

/** One number from a query's first row and column `n`. */
export const count = (sql: string) => rows(sql).pipe(Effect.map((r) => Number(r[0]?.["n"])))
