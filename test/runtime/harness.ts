/**
 * Shared helpers for the runtime tests: run a body against a throwaway project on a real DuckDB
 * file, find a table's record in a report, and read values in a stable, JSON-friendly shape.
 */
import { assert } from "@effect/vitest"
import { Effect, type Layer } from "effect"
import type { TableRecord } from "../../src/metadata/MetadataStore.ts"
import type { RunReport } from "../../src/runtime/Runner.ts"
import { engine, makeProject, rows, type TestProject } from "../support/project.ts"

export type Engine = Layer.Success<ReturnType<typeof engine>>

/** Runs `body` with the engine of a fresh project holding `files`; removes the project afterwards. */
export const inProject = <A, E>(files: Readonly<Record<string, string>>, body: (project: TestProject) => Effect.Effect<A, E, Engine>): Effect.Effect<A, unknown> => {
  const project = makeProject(files)
  return Effect.suspend(() => body(project)).pipe(Effect.provide(engine(project)), Effect.ensuring(Effect.sync(project.remove)))
}

/** The record of one table in a run report; fails the test when it is missing. */
export const tableOf = (report: RunReport, id: string): TableRecord => {
  const found = report.tables.find((t) => t.table === id)
  assert.isDefined(found, `no record for ${id} in the report (has ${report.tables.map((t) => t.table).join(", ")})`)
  return found!
}

/** Asserts a table succeeded, printing its error otherwise. */
export const succeeded = (report: RunReport, id: string): TableRecord => {
  const t = tableOf(report, id)
  assert.strictEqual(t.status, "succeeded", `${id}: ${t.error ?? t.reason ?? ""}`)
  return t
}

/** The counts of a record, for one deepStrictEqual. */
export const countsOf = (t: TableRecord) => ({
  rows_in: t.rows_in,
  rows_out: t.rows_out,
  quarantined: t.quarantined,
  dropped: t.dropped,
  duplicates: t.duplicates,
  rejected: t.rejected,
  dropped_by_reason: t.dropped_by_reason
})

/** rows_in = rows_out + quarantined + dropped + duplicates + rejected, and the record agrees. */
export const assertBalanced = (t: TableRecord) => {
  assert.strictEqual(t.rows_in, t.rows_out + t.quarantined + t.dropped + t.duplicates + t.rejected, `${t.table} does not balance`)
  assert.strictEqual(
    t.dropped,
    Object.values(t.dropped_by_reason).reduce((a, b) => a + b, 0),
    `${t.table}: dropped is not the sum of its reasons`
  )
  assert.isTrue(t.accounting_ok, `${t.table}: accounting_ok is false`)
}

/** Expectation results of a record as [name, on_fail, passed, failed], in the record's order. */
export const expectationsOf = (t: TableRecord) => t.expectations.map((e) => [e.expectation, e.on_fail, e.passed, e.failed] as const)

/** Rows of a query. */
export const query = rows

/** One column of a query's rows. */
export const column = (sql: string, name: string) => Effect.map(rows(sql), (result) => result.map((r) => r[name]))

/** The single value of a one-row, one-column query. */
const scalar = (sql: string) =>
  Effect.map(rows(sql), (result) => {
    assert.strictEqual(result.length, 1, `expected one row from: ${sql}`)
    return Object.values(result[0]!)[0]
  })

/** Number of rows in a table. */
export const countOf = (table: string) => Effect.map(scalar(`SELECT count(*)::INTEGER AS n FROM ${table}`), Number)

/** Column names of a table, in order. */
export const columnsOf = (layer: string, name: string) =>
  column(`SELECT column_name FROM information_schema.columns WHERE table_schema = '${layer}' AND table_name = '${name}' ORDER BY ordinal_position`, "column_name")

/** Tables and views of a schema, by name, with their type. */
export const objectsIn = (layer: string) =>
  Effect.map(rows(`SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = '${layer}' ORDER BY table_name`), (result) =>
    Object.fromEntries(result.map((r) => [String(r["table_name"]), String(r["table_type"])]))
  )
