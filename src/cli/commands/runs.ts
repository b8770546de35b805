/** `medallion runs`: recent runs from the metadata store; with a batch id, that run's tables. */
import { Console, Effect, Option } from "effect"
import { Argument, Command } from "effect/cli"
import { MetadataStore } from "../../metadata/MetadataStore.ts"
import { engineLayer, envFlag, jsonFlag, limitFlag, readingWarehouse, settingsFor, UsageError } from "../context.ts"
import { runLine, tableLine } from "../format.ts"

export const runs = Command.make(
  "runs",
  {
    batchId: Argument.String("batch_id").pipe(Argument.withDescription("Show one run's tables"), Argument.optional),
    limit: limitFlag("runs"),
    env: envFlag,
    json: jsonFlag
  },
  ({ batchId, limit, env, json }) =>
    Effect.gen(function* () {
      const settings = yield* settingsFor(Option.getOrUndefined(env))
      yield* Effect.gen(function* () {
        const store = yield* MetadataStore
        if (Option.isSome(batchId)) {
          const run = yield* store.findRun(batchId.value)
          if (run === undefined) {
            return yield* new UsageError({
              reason: `no run ${batchId.value} in the run history${settings.engine === "duckdb" ? ` of ${settings.duckdb.path}` : ""}; medallion runs lists the recent runs`
            })
          }
          const tables = yield* store.runTables(batchId.value)
          const unchanged = run.unchanged_tables
          if (json) return yield* Console.log(JSON.stringify({ batch_id: batchId.value, tables, unchanged_tables: unchanged }, null, 2))
          for (const t of tables) yield* Console.log(tableLine(t))
          if (unchanged.length > 0) yield* Console.log(`unchanged (${unchanged.length}): ${unchanged.join(", ")}`)
          if (tables.length === 0 && unchanged.length === 0) yield* Console.log(`no tables recorded for run ${batchId.value}`)
          return
        }
        const recent = yield* store.recentRuns(limit)
        if (json) return yield* Console.log(JSON.stringify(recent, null, 2))
        if (recent.length === 0) return yield* Console.log("no runs yet; run medallion apply")
        for (const r of recent) yield* Console.log(runLine(r))
      }).pipe(readingWarehouse(settings, engineLayer(settings)))
    })
).pipe(Command.withDescription("Recent runs, or one run's per-table counts"))
