/**
 * The join step on a real DuckDB file: new names for the columns it brings in (one dimension
 * joined twice), what happens to rows without a match (keep, drop, quarantine) and how they are
 * counted, and a key that matches several rows of the joined table.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { planOf, runPlan } from "../support/project.ts"
import { assertBalanced, columnsOf, countsOf, expectationsOf, inProject, query, succeeded } from "./harness.ts"

// Flight 4 leaves from an airport the dimension does not know (XXX), flight 5 goes to one (YYY),
// flight 6 does both.
const flights = ["flight_id,origin,dest,passengers", "1,CDG,FCO,100", "2,FCO,CDG,80", "3,CDG,OSL,120", "4,XXX,FCO,50", "5,OSL,YYY,60", "6,XXX,YYY,10", ""].join("\n")
const airports = "iata,city,country\nCDG,Paris,FR\nFCO,Rome,IT\nOSL,Oslo,NO\n"
const files = { "data/flights.csv": flights, "data/airports.csv": airports }

/** Flights and airports in bronze, silver.airports keyed by iata, plus the given silver tables. */
const flightsPipeline = (tables: string) =>
  planOf(`
version: 1
pipeline: flights
sources:
  flights: { format: csv, path: data/flights.csv }
  airports: { format: csv, path: data/airports.csv }
bronze: { flights: { from: flights }, airports: { from: airports } }
silver:
  airports:
    from: bronze.airports
    transforms: [ { select: [iata, city, country] } ]
${tables}
`)

const byFlight = (table: string, columns: string) => query(`SELECT ${columns} FROM ${table} ORDER BY flight_id`)

describe("join", () => {
  it.effect("columns: { new_name: column } joins one table twice under new names; the list form still works", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          flightsPipeline(`
  routes:
    from: bronze.flights
    transforms:
      - select: [flight_id, origin, dest]
      - join: { to: silver.airports, on: "l.origin = r.iata", columns: { origin_city: city, origin_country: country } }
      - join: { to: silver.airports, on: "l.dest = r.iata", columns: { dest_city: city } }
      - rename: { dest_city: arrival_city }
  listed:
    from: bronze.flights
    transforms:
      - select: [flight_id, origin]
      - rename: { origin: iata }
      - join: { to: silver.airports, on: [iata], columns: [city] }
`)
        )
        const routes = succeeded(report, "silver.routes")
        // Unmatched rows are kept (the default), with NULL in what the join brings.
        assert.deepStrictEqual(countsOf(routes), { rows_in: 6, rows_out: 6, quarantined: 0, dropped: 0, duplicates: 0, rejected: 0, dropped_by_reason: {} })
        assert.deepStrictEqual(yield* columnsOf("silver", "routes"), ["flight_id", "origin", "dest", "origin_city", "origin_country", "arrival_city"])
        assert.deepStrictEqual(yield* byFlight("silver.routes", "flight_id, origin_city, origin_country, arrival_city"), [
          { flight_id: "1", origin_city: "Paris", origin_country: "FR", arrival_city: "Rome" },
          { flight_id: "2", origin_city: "Rome", origin_country: "IT", arrival_city: "Paris" },
          { flight_id: "3", origin_city: "Paris", origin_country: "FR", arrival_city: "Oslo" },
          { flight_id: "4", origin_city: null, origin_country: null, arrival_city: "Rome" },
          { flight_id: "5", origin_city: "Oslo", origin_country: "NO", arrival_city: null },
          { flight_id: "6", origin_city: null, origin_country: null, arrival_city: null }
        ])
        assert.deepStrictEqual(yield* columnsOf("silver", "listed"), ["flight_id", "iata", "city"])
        assert.deepStrictEqual(yield* byFlight("silver.listed", "flight_id, city"), [
          { flight_id: "1", city: "Paris" },
          { flight_id: "2", city: "Rome" },
          { flight_id: "3", city: "Paris" },
          { flight_id: "4", city: null },
          { flight_id: "5", city: "Oslo" },
          { flight_id: "6", city: null }
        ])
      })
    )
  )

  it.effect("on_unmatched: quarantine moves rows without a match to __quarantine, with the join named in _expectations", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          flightsPipeline(`
  routes:
    from: bronze.flights
    transforms:
      - cast: { flight_id: integer, passengers: integer }
      - select: [flight_id, origin, dest, passengers]
      - join: { to: silver.airports, on: "l.origin = r.iata", columns: { origin_city: city }, on_unmatched: quarantine }
      - join: { to: silver.airports, on: "l.dest = r.iata", columns: { dest_city: city }, on_unmatched: quarantine, name: known_destination }
    expect:
      - { name: enough_passengers, check: passengers >= 20, on_fail: quarantine }
`)
        )
        const routes = succeeded(report, "silver.routes")
        assert.deepStrictEqual(countsOf(routes), { rows_in: 6, rows_out: 3, quarantined: 3, dropped: 0, duplicates: 0, rejected: 0, dropped_by_reason: {} })
        assertBalanced(routes)
        // Expectations still look at the rows a join quarantines (as at rows a cast quarantines).
        assert.deepStrictEqual(expectationsOf(routes), [["enough_passengers", "quarantine", 5, 1]])
        assert.deepStrictEqual(yield* byFlight("silver.routes", "flight_id, origin_city, dest_city"), [
          { flight_id: 1, origin_city: "Paris", dest_city: "Rome" },
          { flight_id: 2, origin_city: "Rome", dest_city: "Paris" },
          { flight_id: 3, origin_city: "Paris", dest_city: "Oslo" }
        ])
        // The default name says which join: the same table is joined twice here. A step's reason comes before an expectation's.
        assert.deepStrictEqual(
          yield* byFlight(
            "silver.routes__quarantine",
            `flight_id, origin_city, dest_city, list_sort(_expectations) AS reasons, _reason, _quarantine_batch_id = '${report.run.batch_id}' AS this_run`
          ),
          [
            {
              flight_id: 4,
              origin_city: null,
              dest_city: "Rome",
              reasons: ["join(silver.airports on l.origin = r.iata)"],
              _reason: "join(silver.airports on l.origin = r.iata)",
              this_run: true
            },
            { flight_id: 5, origin_city: "Oslo", dest_city: null, reasons: ["known_destination"], _reason: "known_destination", this_run: true },
            {
              flight_id: 6,
              origin_city: null,
              dest_city: null,
              reasons: ["enough_passengers", "join(silver.airports on l.origin = r.iata)", "known_destination"],
              _reason: "join(silver.airports on l.origin = r.iata)",
              this_run: true
            }
          ]
        )
      })
    )
  )

  it.effect("on_unmatched: drop counts rows as join_unmatched (a named join as join_unmatched:<name>); how: inner is the same", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          flightsPipeline(`
  dropped:
    from: bronze.flights
    transforms:
      - select: [flight_id, origin, dest]
      - join: { to: silver.airports, on: "l.origin = r.iata", columns: { origin_city: city }, on_unmatched: drop }
  inner:
    from: bronze.flights
    transforms:
      - select: [flight_id, origin, dest]
      - join: { to: silver.airports, on: "l.origin = r.iata", columns: { origin_city: city }, how: inner }
  both:
    from: bronze.flights
    transforms:
      - select: [flight_id, origin, dest]
      - join: { to: silver.airports, on: "l.origin = r.iata", columns: {}, how: inner, on_unmatched: drop }
      - join: { to: silver.airports, on: "l.dest = r.iata", columns: {}, on_unmatched: drop, name: known_destination }
`)
        )
        for (const id of ["silver.dropped", "silver.inner"]) {
          const t = succeeded(report, id)
          assert.deepStrictEqual(countsOf(t), { rows_in: 6, rows_out: 4, quarantined: 0, dropped: 2, duplicates: 0, rejected: 0, dropped_by_reason: { join_unmatched: 2 } })
          assertBalanced(t)
        }
        assert.deepStrictEqual(yield* query("SELECT * FROM silver.dropped EXCEPT SELECT * FROM silver.inner"), [])
        // Flight 6 misses both, and is counted once, by the first join that drops it.
        const both = succeeded(report, "silver.both")
        assert.deepStrictEqual(countsOf(both), {
          rows_in: 6,
          rows_out: 3,
          quarantined: 0,
          dropped: 3,
          duplicates: 0,
          rejected: 0,
          dropped_by_reason: { join_unmatched: 2, "join_unmatched:known_destination": 1 }
        })
        assertBalanced(both)
        // columns: {} brings nothing: the join only checks that the key exists.
        assert.deepStrictEqual(yield* columnsOf("silver", "both"), ["flight_id", "origin", "dest"])
        assert.deepStrictEqual(yield* byFlight("silver.both", "flight_id"), [{ flight_id: "1" }, { flight_id: "2" }, { flight_id: "3" }])
      })
    )
  )

  it.effect("a key that matches several rows gives one row per match, counted in rows_in; a leading dedupe still counts its duplicates", () =>
    inProject(
      {
        "data/flights.csv": `${flights}2,FCO,CDG,80\n`,
        "data/airports.csv": `${airports}CDG,Roissy,FR\n`
      },
      (project) =>
        Effect.gen(function* () {
          const report = yield* runPlan(
            project,
            flightsPipeline(`
  routes:
    from: bronze.flights
    transforms:
      - dedupe: { keys: [flight_id] }
      - select: [flight_id, origin]
      - join: { to: silver.airports, on: "l.origin = r.iata", columns: { origin_city: city }, on_unmatched: drop }
`)
          )
          const routes = succeeded(report, "silver.routes")
          // 7 rows in the file: flight 2 twice. Flights 1 and 3 leave from CDG, which matches two
          // rows: 1 duplicate, 2 without a match (4, 6), 6 out (1 and 3 twice, 2, 5) of 9 staged.
          assert.deepStrictEqual(countsOf(routes), { rows_in: 9, rows_out: 6, quarantined: 0, dropped: 2, duplicates: 1, rejected: 0, dropped_by_reason: { join_unmatched: 2 } })
          assertBalanced(routes)
          assert.deepStrictEqual(yield* query("SELECT flight_id, origin_city FROM silver.routes ORDER BY ALL"), [
            { flight_id: "1", origin_city: "Paris" },
            { flight_id: "1", origin_city: "Roissy" },
            { flight_id: "2", origin_city: "Rome" },
            { flight_id: "3", origin_city: "Paris" },
            { flight_id: "3", origin_city: "Roissy" },
            { flight_id: "5", origin_city: "Oslo" }
          ])
        })
    )
  )

  it.effect("on_unmatched: drop before an aggregate leaves the rows out; counting starts after the aggregate", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          flightsPipeline(`
  by_country:
    from: bronze.flights
    transforms:
      - join: { to: silver.airports, on: "l.origin = r.iata", columns: { origin_country: country }, on_unmatched: drop }
      - aggregate: { by: [origin_country], metrics: { flights: "count(*)::INTEGER" } }
      - filter: flights > 1
`)
        )
        const byCountry = succeeded(report, "silver.by_country")
        assert.deepStrictEqual(countsOf(byCountry), { rows_in: 3, rows_out: 1, quarantined: 0, dropped: 2, duplicates: 0, rejected: 0, dropped_by_reason: { filter: 2 } })
        assertBalanced(byCountry)
        assert.deepStrictEqual(yield* query("SELECT origin_country, flights FROM silver.by_country"), [{ origin_country: "FR", flights: 2 }])
      })
    )
  )
})
