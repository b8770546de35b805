/** `medallion plan [files]`: the DAG and what apply would do to each table, and why; writes nothing. */
import { Console, Effect, FileSystem, Layer, Option, Result } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { spark } from "../../compile/spark.ts"
import * as DuckDbExecutor from "../../executor/DuckDbExecutor.ts"
import { Executor, ExecutorError, QueryFailed } from "../../executor/Executor.ts"
import * as SqlMetadataStore from "../../metadata/SqlMetadataStore.ts"
import { selectTables } from "../../plan/select.ts"
import { type PlannedTable, planChanges } from "../../runtime/planning.ts"
import { loadSituation, type Situation } from "../../runtime/situation.ts"
import type { Settings } from "../../settings/Settings.ts"
import { databricksOptions, envFlag, jsonFlag, planFor, projectDir, readingWarehouse, settingsFor } from "../context.ts"
import { n } from "../format.ts"

const describe = (t: PlannedTable): string => {
  const counts = [
    ...(t.new_inputs === null
      ? []
      : [`${t.new_inputs} new ${t.table.startsWith("bronze.") ? "file" : "batch"}${t.new_inputs === 1 ? "" : t.table.startsWith("bronze.") ? "s" : "es"}`]),
    ...(t.new_rows === null ? [] : [`${n(t.new_rows)} rows`]),
    ...(t.new_columns.length === 0 ? [] : [`new columns: ${t.new_columns.join(", ")}`])
  ]
  return [...t.reasons, ...(counts.length > 0 ? [counts.join(", ")] : [])].join("; ")
}

const nothingYet: Situation = { states: new Map(), existing: new Set<string>() }

/**
 * Planning on Databricks: with the workspace configured, the warehouse's state is read (nothing
 * is written; a catalog without a _medallion schema has nothing yet); without it, the plan is made
 * offline from the Spark SQL the tables compile to, every table showing as create.
 */
const databricksPlan = (settings: Settings) =>
  Effect.gen(function* () {
    const options = databricksOptions(settings)
    const label = `databricks ${settings.databricks.host ?? "(workspace not configured)"} catalog ${settings.databricks.catalog}`
    if (Result.isFailure(options)) {
      const dialect = spark({ catalog: settings.databricks.catalog, schemaPrefix: settings.databricks.schemaPrefix })
      const offline = new ExecutorError({ statement: "(plan)", reason: new QueryFailed({ detail: "planning offline: not connected to Databricks" }) })
      const executor = Layer.succeed(Executor, Executor.of({ engine: "databricks", dialect, withSession: () => Effect.fail(offline), healthCheck: Effect.fail(offline) }))
      return {
        label,
        note: " (offline: not connected, so every table shows as create; configure the workspace to compare with what exists)",
        engine: Layer.provideMerge(SqlMetadataStore.layerReadOnly, executor),
        situation: Effect.succeed(nothingYet)
      }
    }
    const DatabricksExecutor = yield* Effect.promise(() => import("../../executor/DatabricksExecutor.ts"))
    const situation = Effect.gen(function* () {
      const executor = yield* Executor
      const schemas = yield* executor.withSession((s) => s.query(executor.dialect.listSchemas))
      const recorded = schemas.some((r) => r["schema_name"] === executor.dialect.schemaOf("_medallion"))
      return recorded ? yield* loadSituation : nothingYet
    })
    return { label, note: "", engine: Layer.provideMerge(SqlMetadataStore.layerReadOnly, DatabricksExecutor.layerFetch(options.success)), situation }
  })

export const plan = Command.make(
  "plan",
  {
    files: Argument.String("files").pipe(Argument.withDescription("Pipeline files (default: pipelines/*.yaml)"), Argument.variadic()),
    select: Flag.String("select").pipe(Flag.withDescription("Tables to plan, as for apply"), Flag.atLeast(0)),
    fullRefresh: Flag.Boolean("full-refresh").pipe(Flag.withDescription("Plan a rebuild of the (selected) tables"), Flag.withDefault(false)),
    diff: Flag.Boolean("diff").pipe(Flag.withDescription("Show what changed in each table's definition since it was last built"), Flag.withDefault(false)),
    env: envFlag,
    json: jsonFlag
  },
  ({ files, select, fullRefresh, diff, env, json }) =>
    Effect.gen(function* () {
      const settings = yield* settingsFor(Option.getOrUndefined(env))
      const dag = yield* planFor(files)
      const selected = selectTables(dag, select)
      if (Result.isFailure(selected)) return yield* selected.failure
      if (settings.engine === "databricks") {
        const target = yield* databricksPlan(settings)
        const planned = yield* Effect.gen(function* () {
          return yield* planChanges(dag, selected.success, yield* target.situation, {
            projectDir: yield* projectDir,
            fullRefresh: fullRefresh ? selected.success : new Set()
          })
        }).pipe(Effect.provide(target.engine))
        return yield* report(planned, settings.env, target.label, target.note, json, diff)
      }
      const fs = yield* FileSystem.FileSystem
      const exists = settings.duckdb.path === ":memory:" ? false : yield* fs.exists(settings.duckdb.path).pipe(Effect.orElseSucceed(() => false))
      // A warehouse that does not exist yet is planned against an empty in-memory one: nothing is created.
      const engine = Layer.provideMerge(
        SqlMetadataStore.layerReadOnly,
        exists ? DuckDbExecutor.layer({ path: settings.duckdb.path, readOnly: true }) : DuckDbExecutor.layer({ path: ":memory:" })
      )
      const planned = yield* Effect.gen(function* () {
        const situation = exists ? yield* loadSituation : { states: new Map(), existing: new Set<string>() }
        return yield* planChanges(dag, selected.success, situation, {
          projectDir: yield* projectDir,
          fullRefresh: fullRefresh ? selected.success : new Set()
        })
      }).pipe(readingWarehouse(settings, engine))
      return yield* report(planned, settings.env, settings.duckdb.path, exists ? "" : " (not created yet)", json, diff)
    })
).pipe(Command.withDescription("Show what apply would do to each table, and why, without writing anything"))

const report = (planned: ReadonlyArray<PlannedTable>, env: string, warehouse: string, note: string, json: boolean, diff: boolean) =>
  Effect.gen(function* () {
    if (json) return yield* Console.log(JSON.stringify({ env, warehouse, tables: planned }, null, 2))
    yield* Console.log(`medallion plan: ${planned.length} table(s), env ${env}, warehouse ${warehouse}${note}`)
    for (const t of planned) {
      yield* Console.log(`  ${t.action.padEnd(11)} ${t.table.padEnd(32)} ${t.mode.padEnd(8)} ${describe(t)}`)
      if (t.depends_on.length > 0) yield* Console.log(`  ${"".padEnd(11)} ${"".padEnd(32)} <- ${t.depends_on.join(", ")}`)
      if (diff) for (const change of t.changes) yield* Console.log(`  ${"".padEnd(11)} ${change}`)
    }
    const count = (a: PlannedTable["action"]) => planned.filter((t) => t.action === a).length
    yield* Console.log(`${count("create")} to create, ${count("rebuild")} to rebuild, ${count("incremental")} incremental, ${count("skip")} unchanged`)
  })
