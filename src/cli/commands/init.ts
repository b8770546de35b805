/**
 * `medallion init [dir]`: a working project to start from: settings, a bronze -> silver -> gold
 * pipeline over a small sample file, the JSON Schema that editors check it against, and a
 * .gitignore for the warehouse. It never overwrites a file: an existing one is kept and named.
 */
import { Console, Effect, FileSystem, Path } from "effect"
import { Argument, Command } from "effect/cli"
import { pipelineJsonSchema } from "../../spec/jsonSchema.ts"
import { UsageError } from "../context.ts"

const settings = `# medallion settings. Every key can be overridden by an environment variable named
# MEDALLION_<SECTION>__<KEY> (e.g. MEDALLION_DUCKDB__THREADS=4); config/<env>.yaml, chosen with
# --env or MEDALLION_ENV, is laid over this file. \${VAR} and \${VAR:-default} read the environment.
engine: duckdb                  # duckdb | databricks
storage: ./.medallion           # warehouse file and run history
concurrency: 4                  # tables run at the same time when their inputs are ready
duckdb:
  path: ./.medallion/warehouse.duckdb
api:                            # medallion serve
  host: 127.0.0.1
  port: 8080
log_level: info
`

const pipeline = `# yaml-language-server: $schema=../medallion.schema.json
version: 1
pipeline: orders
description: Orders as they arrive (bronze), cleaned and typed (silver), revenue per day (gold)

sources:
  orders_files: { format: csv, path: "data/orders/*.csv", incremental: true }

bronze:
  orders_raw: { from: orders_files }

silver:
  orders:
    from: bronze.orders_raw
    mode: merge
    key: [order_id]
    sequence_by: updated_at
    transforms:
      - cast: { order_id: integer, amount: "decimal(10,2)", ordered_at: timestamp, updated_at: timestamp }
      - filter: "status <> 'test'"
    expect:
      - { not_null: [order_id, ordered_at], on_fail: quarantine }
      - { check: "amount >= 0", name: amount_not_negative, on_fail: quarantine }

gold:
  daily_revenue:
    from: silver.orders
    transforms:
      - derive: { day: "CAST(ordered_at AS DATE)" }
      - aggregate: { by: [day], metrics: { orders: "count(*)", revenue: "sum(amount)" } }
`

const sample = `order_id,customer,status,amount,ordered_at,updated_at
1,ana,paid,25.00,2026-01-05 09:12:00,2026-01-05 09:12:00
2,ben,paid,12.50,2026-01-05 10:40:00,2026-01-05 10:40:00
3,ana,paid,40.00,2026-01-06 14:03:00,2026-01-06 14:03:00
4,cai,test,1.00,2026-01-06 15:00:00,2026-01-06 15:00:00
5,dee,paid,-3.00,2026-01-07 08:30:00,2026-01-07 08:30:00
2,ben,refunded,0.00,2026-01-05 10:40:00,2026-01-07 11:00:00
`

const gitignore = `.medallion/
*.duckdb
*.duckdb.wal
`

export const init = Command.make(
  "init",
  {
    dir: Argument.String("dir").pipe(Argument.withDescription("The project directory (created if missing; default: the current one)"), Argument.withDefault("."))
  },
  ({ dir }) =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const files: ReadonlyArray<readonly [string, string]> = [
        ["config/default.yaml", settings],
        ["pipelines/orders.yaml", pipeline],
        ["data/orders/2026-01-07.csv", sample],
        ["medallion.schema.json", `${JSON.stringify(pipelineJsonSchema(), null, 2)}\n`],
        [".gitignore", gitignore]
      ]
      const written: Array<string> = []
      const kept: Array<string> = []
      for (const [file, text] of files) {
        const target = path.join(dir, file)
        if (yield* fs.exists(target).pipe(Effect.orElseSucceed(() => false))) {
          kept.push(file)
          continue
        }
        yield* fs.makeDirectory(path.dirname(target), { recursive: true }).pipe(
          Effect.andThen(fs.writeFileString(target, text)),
          Effect.mapError((e) => new UsageError({ reason: `cannot write ${target}: ${e.message}` }))
        )
        written.push(file)
      }
      const where = dir === "." ? "" : `cd ${dir} && `
      yield* Console.log(
        [
          ...written.map((f) => `created ${path.join(dir, f)}`),
          ...kept.map((f) => `kept    ${path.join(dir, f)} (exists)`),
          "",
          `next: ${where}medallion apply pipelines/*.yaml, then medallion show gold.daily_revenue`
        ].join("\n")
      )
    })
).pipe(Command.withDescription("Create a working project: settings, an example pipeline over a sample file, the pipeline schema"))
