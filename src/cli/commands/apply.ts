/** `medallion apply [files]`: run the pipelines (or the --select'ed tables) on the configured engine. */
import { Console, Effect, Fiber, FileSystem, Result } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { selectTables } from "../../plan/select.ts"
import { RunFailed } from "../../runtime/errors.ts"
import { withLock } from "../../runtime/Lock.ts"
import { withWarehouseLock } from "../../runtime/WarehouseLock.ts"
import { apply as applyPlan } from "../../runtime/Runner.ts"
import { engineLayer, envFlag, jsonFlag, planFor, projectDir, settingsFor, specCache } from "../context.ts"
import { runSummary, tableLine } from "../format.ts"
import { observed } from "../observability.ts"

export const apply = Command.make("apply", {
  files: Argument.String("files").pipe(Argument.withDescription("Pipeline files (default: pipelines/*.yaml)"), Argument.variadic()),
  select: Flag.String("select").pipe(
    Flag.withDescription("Tables to run: silver.orders, +gold.x (with upstream), silver.orders+ (with downstream), layer:silver; repeat or comma-separate"),
    Flag.atLeast(0)
  ),
  env: envFlag,
  json: jsonFlag,
  fullRefresh: Flag.Boolean("full-refresh").pipe(
    Flag.withDescription("Rebuild the tables (all, or the --select'ed ones) from all their input, whatever changed"),
    Flag.withDefault(false)
  ),
  wait: Flag.Boolean("wait").pipe(
    Flag.withDescription("If another apply holds the warehouse, wait for it to finish instead of failing"),
    Flag.withDefault(false)
  )
}, ({ files, select, env, json, wait, fullRefresh }) =>
  Effect.gen(function*() {
    const settings = yield* settingsFor(env._tag === "Some" ? env.value : undefined)
    yield* Effect.gen(function*() {
      const databricks = settings.engine === "databricks"
      const warehouse = databricks ? `${settings.databricks.host ?? "?"} catalog ${settings.databricks.catalog}` : settings.duckdb.path
      // An existing DuckDB warehouse is locked and opened (on DuckDB's threads) while the pipelines
      // are read. Otherwise they are read first: a spec error then creates no warehouse, and with
      // --wait it does not wait for the warehouse either.
      const planning = planFor(files, specCache(settings))
      const fs = yield* FileSystem.FileSystem
      const overlap = !databricks && !wait && (yield* fs.exists(settings.duckdb.path).pipe(Effect.orElseSucceed(() => false)))
      const planned = overlap ? Fiber.join(yield* Effect.forkChild(planning)) : Effect.succeed(yield* planning)
      const onWaiting = (held: { readonly database: string; readonly holderText: string }) =>
        Console.error(`waiting: the warehouse ${held.database} is in use by ${held.holderText}; checking every ${databricks ? "5" : "0.5"} s`)
      const dir = yield* projectDir
      const run = Effect.gen(function*() {
        const plan = yield* planned
        const selected = selectTables(plan, select)
        if (Result.isFailure(selected)) return yield* selected.failure
        if (!json) yield* Console.log(`medallion apply: ${selected.success.size} table(s), env ${settings.env}, engine ${settings.engine} (${warehouse})`)
        return yield* applyPlan(plan, {
          projectDir: dir,
          env: settings.env,
          selected: selected.success,
          fullRefresh: fullRefresh ? selected.success : new Set(),
          concurrency: settings.concurrency,
          onTable: json ? undefined : (t) => Console.log(tableLine(t))
        })
      })
      const report = yield* databricks
        // On Databricks the lock is a row in _medallion.locks (WarehouseLock.ts), taken once the engine is up.
        ? run.pipe(withWarehouseLock({ database: `databricks ${warehouse}`, command: "medallion apply", wait, onWaiting }), Effect.provide(engineLayer(settings)))
        : run.pipe(
        Effect.provide(engineLayer(settings)),
        // Held for the whole run: taken before the engine layer opens the database, released after it closes.
        withLock({
          database: settings.duckdb.path,
          command: "medallion apply",
          wait,
          onWaiting,
          onTakeover: (stale) => Console.error(`took over a stale lock ${stale.lockFile}: ${stale.reason}`)
        })
      )
      yield* Effect.annotateCurrentSpan({ "medallion.batch_id": report.run.batch_id, "medallion.pipelines": report.run.pipelines, "medallion.status": report.run.status })
      if (json) yield* Console.log(JSON.stringify(report, null, 2))
      else yield* Console.log(runSummary(report.run, report.tables))
      if (report.run.status !== "succeeded") {
        return yield* new RunFailed({ batchId: report.run.batch_id, failed: report.tables.filter((t) => t.status === "failed" || t.status === "skipped").map((t) => t.table) })
      }
    }).pipe(observed(settings, "medallion.apply", { "medallion.files": files, "medallion.full_refresh": fullRefresh }))
  })).pipe(Command.withDescription("Run pipelines: bronze, silver and gold tables on the configured engine"))
