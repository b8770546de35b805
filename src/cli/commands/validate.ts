/**
 * `medallion validate [files]`: parse, schema, references and cycles, that every source a bronze
 * table reads has its data (skipped with --no-data-check), and that every table's SQL binds against
 * the columns of its inputs (skipped with --no-sql-check; runtime/bind.ts). Reads no rows, and never
 * opens the warehouse: the SQL is checked on a scratch in-memory engine.
 */
import { Console, Effect, FileSystem, Option, Path } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as DuckDbExecutor from "../../executor/DuckDbExecutor.ts"
import type { IngestNode, Plan } from "../../plan/Plan.ts"
import { bindPlan, type BindReport } from "../../runtime/bind.ts"
import { hasGlobSyntax } from "../../runtime/files.ts"
import type { ParsedPipeline } from "../../spec/parse.ts"
import { type Problem, SpecError } from "../../spec/SpecError.ts"
import { AlreadyReported, envFlag, jsonFlag, loadPlan, projectDir, settingsFor } from "../context.ts"

/**
 * Whether a source's path names a file: a plain path that exists, or a glob that matches one. Only
 * what `apply` would otherwise find missing; an unreadable file is still apply's to report.
 */
const hasData = (pattern: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const root = yield* projectDir
    const matches = hasGlobSyntax(pattern) ? yield* fs.glob(pattern, { root }).pipe(Effect.orElseSucceed(() => [])) : [pattern]
    for (const match of matches) {
      const info = yield* fs.stat(path.resolve(root, match)).pipe(Effect.option)
      if (Option.isSome(info) && info.value.type === "File") return true
    }
    return false
  })

/** A problem at the `path` of every source read by a bronze table whose data is not there. */
const checkData = (plan: Plan, parsed: ReadonlyArray<ParsedPipeline>) =>
  Effect.gen(function* () {
    const byFile = new Map(parsed.map((p) => [p.file, p]))
    const sources = new Map<string, IngestNode>()
    for (const node of plan.nodes.values()) if (node._tag === "Ingest") sources.set(`${node.file}\0${node.sourceName}`, node)
    // Many at a time: each is a stat or a directory listing, and a spec may have thousands.
    const problems = yield* Effect.forEach(
      sources.values(),
      (node) =>
        Effect.map(hasData(node.source.path), (found): ReadonlyArray<Problem> => {
          if (found) return []
          const pattern = node.source.path
          const missing = hasGlobSyntax(pattern) ? `no file matches ${pattern}` : `there is no file ${pattern}`
          return [
            byFile
              .get(node.file)!
              .problemAt(
                ["sources", node.sourceName, "path"],
                `sources.${node.sourceName}.path: ${missing} (paths are relative to the project directory); put the data there, or pass --no-data-check if it arrives later`
              )
          ]
        }),
      { concurrency: 16 }
    )
    if (problems.flat().length > 0) return yield* new SpecError({ problems: problems.flat() })
  })

/**
 * The SQL check: every table's statements bound over empty tables on a scratch in-memory DuckDB
 * (never the warehouse). Databricks runs Spark SQL, which DuckDB's binder would misjudge: not checked.
 */
const checkSql = (plan: Plan, parsed: ReadonlyArray<ParsedPipeline>, engine: "duckdb" | "databricks") =>
  Effect.gen(function* () {
    if (engine === "databricks")
      return {
        skipped: "engine: databricks runs Spark SQL, which this check (DuckDB's binder) does not know; apply reports such mistakes at the part of the table that holds them"
      }
    const report = yield* bindPlan(plan, parsed, yield* projectDir).pipe(Effect.provide(DuckDbExecutor.layer({ path: ":memory:", threads: 1 })))
    if (report.problems.length > 0) return yield* new SpecError({ problems: report.problems })
    return { report }
  })

type SqlCheck = { readonly skipped: string; readonly report?: undefined } | { readonly report: BindReport; readonly skipped?: undefined } | undefined

const sqlCheckJson = (check: SqlCheck) =>
  check === undefined
    ? null
    : check.report === undefined
      ? { checked: [], not_checked: [], note: check.skipped }
      : { checked: check.report.checked, not_checked: check.report.unchecked }

const sqlCheckLines = (check: SqlCheck): ReadonlyArray<string> => {
  if (check === undefined) return []
  if (check.report === undefined) return [`SQL not checked: ${check.skipped}`]
  const { checked, unchecked } = check.report
  return [
    `SQL of ${checked.length} table(s) checked against their inputs' columns (no rows read)${unchecked.length > 0 ? `; ${unchecked.length} not checked:` : ""}`,
    ...unchecked.map((u) => `  ${u.table.padEnd(32)} ${u.reason}`)
  ]
}

export const validate = Command.make(
  "validate",
  {
    files: Argument.String("files").pipe(Argument.withDescription("Pipeline files (default: pipelines/*.yaml)"), Argument.variadic()),
    dataCheck: Flag.Boolean("data-check").pipe(
      Flag.withDescription("Check that each source's path names a file or its glob matches one; --no-data-check when the data arrives later"),
      Flag.withDefault(true)
    ),
    sqlCheck: Flag.Boolean("sql-check").pipe(
      Flag.withDescription("Check every table's SQL (columns, types, functions, syntax) against its inputs' columns, reading no rows; --no-sql-check to skip it"),
      Flag.withDefault(true)
    ),
    env: envFlag,
    json: jsonFlag
  },
  ({ files, dataCheck, sqlCheck, env, json }) =>
    Effect.gen(function* () {
      const { plan, sql } = yield* Effect.gen(function* () {
        const { parsed, plan } = yield* loadPlan(files)
        if (dataCheck) yield* checkData(plan, parsed)
        // The settings say only which engine the SQL is for.
        const sql: SqlCheck = sqlCheck ? yield* checkSql(plan, parsed, (yield* settingsFor(Option.getOrUndefined(env))).engine) : undefined
        return { plan, sql }
      }).pipe(
        Effect.catchTag(
          "SpecError",
          (error): Effect.Effect<never, SpecError | AlreadyReported> =>
            json
              ? Console.log(JSON.stringify({ valid: false, problems: error.problems }, null, 2)).pipe(Effect.andThen(Effect.fail(new AlreadyReported({ exitCode: 2 }))))
              : Effect.fail(error)
        )
      )
      const tables = plan.order.map((id) => {
        const node = plan.nodes.get(id)!
        return { table: id, pipeline: node.pipeline, mode: node.mode, depends_on: node.dependsOn }
      })
      if (json) {
        return yield* Console.log(JSON.stringify({ valid: true, pipelines: plan.pipelines.map((p) => p.pipeline), tables, sql_check: sqlCheckJson(sql) }, null, 2))
      }
      yield* Console.log(`ok: ${plan.pipelines.length} pipeline(s), ${tables.length} table(s)`)
      for (const t of tables) yield* Console.log(`  ${t.table.padEnd(32)} ${t.mode.padEnd(8)} ${t.depends_on.length > 0 ? `<- ${t.depends_on.join(", ")}` : ""}`)
      for (const line of sqlCheckLines(sql)) yield* Console.log(line)
    })
).pipe(Command.withDescription("Check pipeline files: YAML, schema, references, cycles, that the sources' data is there, and every table's SQL"))
