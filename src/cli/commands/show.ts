/** `medallion show layer.table`: the first rows of a table. */
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { shapeRows } from "../../api/values.ts"
import { Executor } from "../../executor/Executor.ts"
import { SelectionError } from "../../plan/select.ts"
import { layers } from "../../spec/Pipeline.ts"
import { didYouMean } from "../../spec/suggest.ts"
import { engineLayer, envFlag, jsonFlag, limitFlag, readingWarehouse, settingsFor } from "../context.ts"

/** The widest a column is shown without --wide. */
const cellWidth = 40

/** A value cut to `width` characters, its last one a marker that it was cut. */
const cut = (text: string, width: number) => (text.length <= width ? text : `${text.slice(0, width - 1)}…`)

export const show = Command.make(
  "show",
  {
    table: Argument.String("table").pipe(Argument.withDescription("layer.table, e.g. gold.daily_revenue")),
    limit: limitFlag("rows"),
    env: envFlag,
    json: jsonFlag,
    wide: Flag.Boolean("wide").pipe(Flag.withDescription(`Show every value whole (by default a value over ${cellWidth} characters is cut, marked with …)`), Flag.withDefault(false))
  },
  ({ table, limit, env, json, wide }) =>
    Effect.gen(function* () {
      const settings = yield* settingsFor(Option.getOrUndefined(env))
      yield* Effect.gen(function* () {
        const executor = yield* Executor
        const d = executor.dialect
        const { columns, rows } = yield* executor.withSession((s) =>
          Effect.gen(function* () {
            const known = (yield* s.query(d.tablesIn(layers))).map((r) => String(r["id"]))
            if (!known.includes(table)) {
              return yield* new SelectionError({ selector: table, reason: `no table ${table} in the warehouse${didYouMean(table, known)}` })
            }
            const [layer, name] = table.split(".") as ["gold", string]
            const columns = (yield* s.query(d.columnsOf(layer, name))).map((c) => ({ name: String(c["column_name"]), type: String(c["column_type"]) }))
            return { columns, rows: yield* s.query(`SELECT * FROM ${d.table(layer, name)} LIMIT ${Math.max(0, Math.floor(limit))}`) }
          })
        )
        // The same JSON values as the API's (numbers, ISO 8601 times; integers beyond 2^53 as strings).
        if (json) return yield* Console.log(JSON.stringify(shapeRows(columns, rows), null, 2))
        if (rows.length === 0) return yield* Console.log("(no rows)")
        const names = Object.keys(rows[0]!)
        const cell = (v: unknown) => (v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v))
        const limitOf = wide ? Number.POSITIVE_INFINITY : cellWidth
        const widths = names.map((c) => Math.min(limitOf, Math.max(c.length, ...rows.map((r) => cell(r[c]).length))))
        const line = (values: ReadonlyArray<string>) => values.map((v, i) => cut(v, limitOf).padEnd(widths[i]!)).join("  ")
        yield* Console.log(line(names))
        yield* Console.log(line(widths.map((w) => "-".repeat(w))))
        for (const r of rows) yield* Console.log(line(names.map((c) => cell(r[c]))))
        if (rows.some((r) => names.some((c) => cell(r[c]).length > limitOf))) {
          yield* Console.log(`(values over ${cellWidth} characters are cut, marked …: --wide shows them whole, --json as data)`)
        }
      }).pipe(readingWarehouse(settings, engineLayer(settings)))
    })
).pipe(Command.withDescription("Show the first rows of a table"))
