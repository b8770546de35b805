/**
 * The top step on a real DuckDB file: the first n rows per group, which rows win a tie, with_ties,
 * and its accounting (a change of grain: the rows past n are not "dropped").
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { planOf, runPlan } from "../support/project.ts"
import { assertBalanced, countsOf, inProject, query, succeeded } from "./harness.ts"

/** A pipeline over data/routes.csv (origin, dest, passengers) in bronze.routes, plus the given tables. */
const routesPipeline = (tables: string) =>
  planOf(`
version: 1
pipeline: routes
sources: { routes: { format: csv, path: data/routes.csv } }
bronze: { routes: { from: routes } }
${tables}
`)

const routes = ["origin,dest,passengers", "CDG,FCO,100", "CDG,OSL,100", "CDG,LHR,90", "CDG,MAD,50", "FCO,CDG,70", "FCO,LHR,70", "FCO,OSL,70", "OSL,CDG,10", ""].join("\n")

const pairs = (table: string) => Effect.map(query(`SELECT origin, dest FROM ${table} ORDER BY origin, dest`), (rows) => rows.map((r) => `${r["origin"]}-${r["dest"]}`))

describe("top", () => {
  it.effect("keeps the first n rows per group; ties go to arrival, then to the whole row; with_ties keeps every tied row", () =>
    inProject({ "data/routes.csv": routes }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          routesPipeline(`
silver:
  routes:
    from: bronze.routes
    transforms:
      - cast: { passengers: integer }
gold:
  by_arrival:
    from: silver.routes
    transforms:
      - top: { n: 2, order_by: passengers desc, by: [origin] }
      - select: [origin, dest, passengers]
  by_row:
    from: silver.routes
    transforms:
      - select: [origin, dest, passengers]
      - top: { n: 2, order_by: passengers desc, by: [origin] }
  with_ties:
    from: silver.routes
    transforms:
      - top: { n: 2, order_by: [passengers desc], by: [origin], with_ties: true }
  overall:
    from: silver.routes
    transforms:
      - top: { n: 3, order_by: passengers desc }
`)
        )
        for (const id of ["gold.by_arrival", "gold.by_row", "gold.with_ties", "gold.overall"]) assertBalanced(succeeded(report, id))
        // FCO's three routes tie. With the arrival columns, "desc" keeps the latest arrivals (the
        // file's last two FCO lines, as dedupe would); without them, the whole row decides,
        // ascending (CDG, then LHR).
        assert.deepStrictEqual(yield* pairs("gold.by_arrival"), ["CDG-FCO", "CDG-OSL", "FCO-LHR", "FCO-OSL", "OSL-CDG"])
        assert.deepStrictEqual(yield* pairs("gold.by_row"), ["CDG-FCO", "CDG-OSL", "FCO-CDG", "FCO-LHR", "OSL-CDG"])
        assert.deepStrictEqual(yield* pairs("gold.with_ties"), ["CDG-FCO", "CDG-OSL", "FCO-CDG", "FCO-LHR", "FCO-OSL", "OSL-CDG"])
        assert.deepStrictEqual(yield* pairs("gold.overall"), ["CDG-FCO", "CDG-LHR", "CDG-OSL"])
        // The rows past n are not counted anywhere: the grain changed.
        assert.deepStrictEqual(countsOf(succeeded(report, "gold.by_row")), {
          rows_in: 5,
          rows_out: 5,
          quarantined: 0,
          dropped: 0,
          duplicates: 0,
          rejected: 0,
          dropped_by_reason: {}
        })
        // A top keeps whole rows, lineage included.
        assert.deepStrictEqual(yield* query("SELECT DISTINCT _source_file IS NOT NULL AS has_lineage FROM gold.with_ties"), [{ has_lineage: true }])
      })
    )
  )

  it.effect("picks the same rows whatever the engine's order: many tied rows, decided by arrival or by the whole row", () => {
    // 4,000 rows over 8 origins, all with the same passengers, shuffled so that file order is not
    // the order of dest; read by two threads.
    const lines = Array.from({ length: 4_000 }, (_, i) => `O${i % 8},D${String((i * 7919) % 4_000).padStart(4, "0")},100`)
    return inProject({ "data/routes.csv": `origin,dest,passengers\n${lines.join("\n")}\n` }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          routesPipeline(`
gold:
  latest:
    from: bronze.routes
    transforms:
      - top: { n: 3, order_by: passengers desc, by: [origin] }
  smallest:
    from: bronze.routes
    transforms:
      - select: [origin, dest, passengers]
      - top: { n: 3, order_by: passengers desc, by: [origin] }
`)
        )
        succeeded(report, "gold.latest")
        succeeded(report, "gold.smallest")
        // By arrival, descending: the last three lines of each origin in the file.
        const expectedLatest = yield* query(`
          SELECT origin, dest FROM bronze.routes QUALIFY row_number() OVER (PARTITION BY origin ORDER BY _source_row DESC) <= 3 ORDER BY origin, dest`)
        assert.deepStrictEqual(yield* query("SELECT origin, dest FROM gold.latest ORDER BY origin, dest"), expectedLatest)
        // By the whole row: the three smallest dest of each origin.
        const expectedSmallest = yield* query(`
          SELECT origin, dest FROM bronze.routes QUALIFY row_number() OVER (PARTITION BY origin ORDER BY dest) <= 3 ORDER BY origin, dest`)
        assert.deepStrictEqual(yield* query("SELECT origin, dest FROM gold.smallest ORDER BY origin, dest"), expectedSmallest)
        assert.strictEqual(expectedSmallest.length, 24)
      })
    )
  })

  it.effect("changes the grain: rows past n are not dropped (as with row_number and a filter), while the steps after it are counted", () =>
    inProject({ "data/routes.csv": `${routes}CDG,FCO,100\n` }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          routesPipeline(`
gold:
  top_routes:
    from: bronze.routes
    transforms:
      - dedupe: { keys: [origin, dest] }
      - cast: { passengers: integer }
      - top: { n: 3, order_by: passengers desc }
      - filter: passengers > 90
  ranked:
    from: bronze.routes
    transforms:
      - dedupe: { keys: [origin, dest] }
      - cast: { passengers: integer }
      - derive: { position: "row_number() OVER (ORDER BY passengers DESC, dest)" }
      - filter: position <= 3 AND passengers > 90
  busiest_origins:
    from: bronze.routes
    transforms:
      - cast: { passengers: integer }
      - aggregate: { by: [origin], metrics: { total: "sum(passengers)::INTEGER" } }
      - top: { n: 2, order_by: total desc }
`)
        )
        // The duplicate line and the routes past 3 are not counted: only the filter after the top is.
        const top = succeeded(report, "gold.top_routes")
        assert.deepStrictEqual(countsOf(top), { rows_in: 3, rows_out: 2, quarantined: 0, dropped: 1, duplicates: 0, rejected: 0, dropped_by_reason: { filter: 1 } })
        assertBalanced(top)
        assert.deepStrictEqual(yield* pairs("gold.top_routes"), ["CDG-FCO", "CDG-OSL"])
        // The workaround gives the same rows but counts every row past the limit as dropped.
        const ranked = succeeded(report, "gold.ranked")
        assert.deepStrictEqual(yield* pairs("gold.ranked"), ["CDG-FCO", "CDG-OSL"])
        assert.deepStrictEqual(ranked.dropped_by_reason, { filter: 6 })
        const busiest = succeeded(report, "gold.busiest_origins")
        assert.deepStrictEqual([busiest.rows_in, busiest.rows_out], [2, 2])
        assert.deepStrictEqual(yield* query("SELECT origin, total FROM gold.busiest_origins ORDER BY total DESC"), [
          { origin: "CDG", total: 440 },
          { origin: "FCO", total: 210 }
        ])
      })
    )
  )
})
