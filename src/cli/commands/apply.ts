/** `medallion apply [files]`: run the pipelines (or the --select'ed tables) on the configured engine. */
import { Console, Effect, Fiber, FileSystem, Result } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { duckdb } from "../../compile/duckdb.ts"
import { Executor } from "../../executor/Executor.ts"
import { selectTables } from "../../plan/select.ts"
import { RunFailed } from "../../runtime/errors.ts"
import { withLock } from "../../runtime/Lock.ts"
import { withWarehouseLock } from "../../runtime/WarehouseLock.ts"
import { apply as applyPlan } from "../../runtime/Runner.ts"
import { prepareAll } from "../../runtime/situation.ts"
import { engineLayer, envFlag, jsonFlag, planFor, projectDir, settingsFor, specCache } from "../context.ts"
import { runSummary, tableLine } from "../format.ts"
import { observed } from "../observability.ts"
import { makeProgress } from "../progress.ts"

export const apply = Command.make(
  "apply",
  {
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
    wait: Flag.Boolean("wait").pipe(Flag.withDescription("If another apply holds the warehouse, wait for it to finish instead of failing"), Flag.withDefault(false)),
    verbose: Flag.Boolean("verbose").pipe(Flag.withDescription("Show the SQL of a statement that failed"), Flag.withDefault(false))
  },
  ({ files, select, env, json, wait, fullRefresh, verbose }) =>
    Effect.gen(function* () {
      const settings = yield* settingsFor(env._tag === "Some" ? env.value : undefined)
      yield* Effect.gen(function* () {
        const databricks = settings.engine === "databricks"
        const warehouse = databricks ? `${settings.databricks.host ?? "?"} catalog ${settings.databricks.catalog}` : settings.duckdb.path
        const dir = yield* projectDir
        const planning = Effect.gen(function* () {
          const plan = yield* planFor(files, specCache(settings))
          const selected = selectTables(plan, select)
          return Result.isFailure(selected) ? yield* selected.failure : { plan, selected: selected.success }
        })
        // An existing DuckDB warehouse is locked and opened (on DuckDB's threads) while the pipelines
        // are read and the selected tables prepared (definitions compiled, files listed). Otherwise
        // they are read first: a spec error then creates no warehouse, and with --wait it does not
        // wait for the warehouse either.
        const fs = yield* FileSystem.FileSystem
        const overlap = !databricks && !wait && (yield* fs.exists(settings.duckdb.path).pipe(Effect.orElseSucceed(() => false)))
        const planned = overlap ? Fiber.join(yield* Effect.forkChild(planning)) : Effect.succeed(yield* planning)
        // Joined only once `planned` succeeded, so it cannot fail.
        const prepared = overlap
          ? Effect.orDie(
              Fiber.join(
                yield* Effect.forkChild(
                  Effect.flatMap(planned, ({ plan, selected }) =>
                    prepareAll(
                      plan,
                      plan.order.filter((id) => selected.has(id)),
                      dir,
                      duckdb
                    )
                  )
                )
              )
            )
          : undefined
        const onWaiting = (held: { readonly database: string; readonly holderText: string }) =>
          Console.error(`waiting: the warehouse ${held.database} is in use by ${held.holderText}; checking every ${databricks ? "5" : "0.5"} s`)
        const run = Effect.gen(function* () {
          const { plan, selected } = yield* planned
          if (!json) yield* Console.log(`medallion apply: ${selected.size} table(s), env ${settings.env}, engine ${settings.engine} (${warehouse})`)
          const progress = makeProgress({ json, activity: (yield* Executor).activity })
          return yield* progress
            .around(
              applyPlan(plan, {
                projectDir: dir,
                env: settings.env,
                selected,
                fullRefresh: fullRefresh ? selected : new Set(),
                concurrency: settings.concurrency,
                onTableStart: progress.onTableStart,
                onTable: (t) => progress.onTable(tableLine(t, verbose), t.table),
                failuresInOutput: true,
                prepared
              })
            )
            .pipe(
              Effect.onInterrupt(() =>
                json ? Effect.void : Console.error("cancelled: the run is recorded as cancelled (medallion runs); tables published before it stopped stay")
              )
            )
        })
        const report = yield* databricks
          ? // On Databricks the lock is a row in _medallion.locks (WarehouseLock.ts), taken once the engine is up.
            run.pipe(withWarehouseLock({ database: `databricks ${warehouse}`, command: "medallion apply", wait, onWaiting }), Effect.provide(engineLayer(settings)))
          : run.pipe(
              Effect.provide(engineLayer(settings, { deferNoOpRuns: true, serveReads: true })),
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
    })
).pipe(Command.withDescription("Run pipelines: bronze, silver and gold tables on the configured engine"))
