/**
 * The join and top steps through the Databricks executor against the stand-in: renamed columns of
 * one table joined twice, unmatched rows quarantined and dropped, top per group, overall and with
 * ties give the same tables and the same accounting as DuckDB.
 */
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { engine, makeProject, planOf, runPlan } from "../support/project.ts"
import { assertAccounting, countsOf } from "../examples/examples.ts"
import { compareGold, databricksEngine, TOKEN, WAREHOUSE } from "../support/databricks/engine.ts"
import { startStandIn } from "../support/databricks/server.ts"

const pipeline = `
version: 1
pipeline: flights
sources:
  flights: { format: csv, path: data/flights.csv }
  airports: { format: csv, path: data/airports.csv }
bronze: { flights: { from: flights }, airports: { from: airports } }
silver:
  airports: { from: bronze.airports }
  routes:
    from: bronze.flights
    transforms:
      - cast: { passengers: integer }
      - join: { to: silver.airports, on: "l.origin = r.iata", columns: { origin_city: city }, on_unmatched: quarantine }
      - join: { to: silver.airports, on: "l.dest = r.iata", columns: { dest_city: city }, on_unmatched: drop, name: known_destination }
gold:
  busiest:
    from: silver.routes
    transforms:
      - select: [origin, dest, passengers]
      - top: { n: 1, order_by: passengers desc, by: [origin] }
  tied:
    from: silver.routes
    transforms:
      - top: { n: 1, order_by: passengers desc, by: [origin], with_ties: true }
      - select: [origin, dest, passengers]
  overall:
    from: silver.routes
    transforms:
      - select: [origin, dest, passengers]
      - top: { n: 2, order_by: passengers desc }
      - filter: passengers > 90
`
const files = {
  "pipelines/flights.yaml": pipeline,
  "data/flights.csv": "flight_id,origin,dest,passengers\n1,CDG,FCO,100\n2,FCO,CDG,80\n3,CDG,OSL,100\n4,XXX,FCO,50\n5,OSL,YYY,60\n6,FCO,OSL,80\n",
  "data/airports.csv": "iata,city\nCDG,Paris\nFCO,Rome\nOSL,Oslo\n"
}

describe("join and top on Databricks (stand-in)", () => {
  it.live(
    "give the same tables and counts as on DuckDB",
    () => {
      const duckProject = makeProject(files)
      const dbxProject = makeProject(files)
      const plan = planOf(pipeline)
      return Effect.gen(function* () {
        const standIn = yield* Effect.acquireRelease(
          Effect.promise(() => startStandIn({ catalog: "lakehouse", warehouseId: WAREHOUSE, token: TOKEN })),
          (s) => Effect.promise(() => s.close())
        )
        const duck = yield* runPlan(duckProject, plan).pipe(Effect.provide(engine(duckProject)))
        const dbx = yield* runPlan(dbxProject, plan).pipe(Effect.provide(databricksEngine(standIn)))
        assertAccounting(duck)
        assertAccounting(dbx)
        assert.deepStrictEqual(countsOf(dbx), countsOf(duck))
        assert.deepStrictEqual(countsOf(dbx)["silver.routes"], { rows_in: 6, rows_out: 4, quarantined: 1, dropped: 1, duplicates: 0, rejected: 0 })
        for (const layer of ["silver", "gold"]) {
          const { problems, tables } = yield* Effect.promise(() => compareGold(standIn, join(duckProject.dir, ".medallion", "warehouse.duckdb"), "lakehouse", layer, layer))
          assert.deepStrictEqual(problems, [])
          assert.isTrue(
            Object.values(tables).every((n) => n > 0),
            JSON.stringify(tables)
          )
        }
        assert.deepStrictEqual(yield* Effect.promise(() => standIn.query("SELECT origin, dest FROM lakehouse.gold.busiest ORDER BY origin")), [
          { origin: "CDG", dest: "FCO" },
          { origin: "FCO", dest: "CDG" }
        ])
        assert.deepStrictEqual(yield* Effect.promise(() => standIn.query("SELECT flight_id, _expectations FROM lakehouse.silver.routes__quarantine")), [
          { flight_id: "4", _expectations: ["join(silver.airports on l.origin = r.iata)"] }
        ])
      }).pipe(
        Effect.scoped,
        Effect.ensuring(
          Effect.sync(() => {
            duckProject.remove()
            dbxProject.remove()
          })
        )
      )
    },
    240_000
  )
})
