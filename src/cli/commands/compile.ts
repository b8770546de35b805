/**
 * `medallion compile [tables]`: the SQL each table runs, for the configured engine or another
 * (`--engine duckdb|spark`), without opening a warehouse. A first build reads all of its input; an
 * incremental run adds a filter on the new batches, which this shows as a first build would.
 */
import { Console, Effect, Option, Result } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { duckdb } from "../../compile/duckdb.ts"
import { compileIngest } from "../../compile/ingest.ts"
import { compileModel } from "../../compile/model.ts"
import { spark } from "../../compile/spark.ts"
import { selectTables } from "../../plan/select.ts"
import type { PlanNode } from "../../plan/Plan.ts"
import type { Dialect } from "../../compile/Dialect.ts"
import { envFlag, planFor, settingsFor } from "../context.ts"

const placeholders = { batchId: "<batch_id>", startedAt: "1970-01-01T00:00:00.000Z" }

/** The statements of one table, each under a comment saying what it is for. */
const compiledSql = (d: Dialect, node: PlanNode): ReadonlyArray<readonly [string, string]> => {
  if (node._tag === "Ingest") {
    const program = compileIngest(d, node, { ...placeholders, files: [{ path: "<each file>", name: "<each file>", batchId: "<batch_id>", ingestedAt: placeholders.startedAt }] })
    return [
      ["read each file (the rows, with lineage)", program.reads[0]!],
      ...(program.rejected === undefined ? [] : [["the malformed lines, to <table>__rejects", program.rejected] as const])
    ]
  }
  const program = compileModel(d, node, placeholders)
  if (node.mode === "view") return [["the view's query", program.chainQuery]]
  if (program.keepsEveryRow) return [["the table, in one pass (no step or expectation can set a row aside)", program.chainQuery]]
  return [
    ["build: every row, marked with what sets it aside", program.buildStage],
    ["the rows to publish", program.output],
    ...(program.quarantine === undefined ? [] : [["the rows to quarantine", program.quarantine] as const])
  ]
}

export const compile = Command.make(
  "compile",
  {
    tables: Argument.String("tables").pipe(Argument.withDescription("Tables, as for apply --select (default: all)"), Argument.variadic()),
    engine: Flag.ChoiceWithValue("engine", [
      ["duckdb", "duckdb"],
      ["spark", "spark"]
    ] as const).pipe(Flag.withDescription("The SQL of this engine (default: the configured one)"), Flag.optional),
    env: envFlag
  },
  ({ tables, engine, env }) =>
    Effect.gen(function* () {
      const settings = yield* settingsFor(Option.getOrUndefined(env))
      const plan = yield* planFor([])
      const selected = selectTables(plan, tables)
      if (Result.isFailure(selected)) return yield* selected.failure
      const onSpark = Option.getOrElse(engine, () => (settings.engine === "databricks" ? "spark" : "duckdb")) === "spark"
      const d = onSpark ? spark({ catalog: settings.databricks.catalog, schemaPrefix: settings.databricks.schemaPrefix }) : duckdb
      for (const id of plan.order.filter((t) => selected.success.has(t))) {
        const node = plan.nodes.get(id)!
        yield* Console.log(`-- ${id} (${node.mode}), declared at ${node.location}, ${d.name} SQL`)
        for (const [what, sql] of compiledSql(d, node)) yield* Console.log(`-- ${what}\n${sql};\n`)
      }
    })
).pipe(Command.withDescription("Print the SQL each table runs (as a first build does), for the configured engine or --engine"))
