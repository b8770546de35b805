/**
 * Change detection on apply: unchanged tables are skipped and nothing is written, a change
 * rebuilds the table and its downstream only, --full-refresh rebuilds the selection, new files
 * flow through incrementally, changed and empty files follow their rules, and schema drift adds
 * columns.
 */
import { createHash } from "node:crypto"
import { utimesSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import type { Plan } from "../../src/plan/Plan.ts"
import { selectTables } from "../../src/plan/select.ts"
import type { RunReport } from "../../src/runtime/Runner.ts"
import { planChanges } from "../../src/runtime/planning.ts"
import { loadSituation } from "../../src/runtime/situation.ts"
import { planOf, runPlan, type TestProject } from "../support/project.ts"
import { assertBalanced, column, columnsOf, countOf, inProject, query, succeeded, tableOf } from "./harness.ts"

const pipeline = (options: { readonly onChange?: string; readonly silverEvents?: string; readonly goldExpect?: string; readonly customerTransforms?: string } = {}) => `
version: 1
pipeline: shop
sources:
  events: { format: csv, path: "data/events/*.csv", incremental: true${options.onChange === undefined ? "" : `, on_change: ${options.onChange}`} }
  customers: { format: csv, path: data/customers.csv }
bronze:
  events: { from: events }
  customers: { from: customers }
silver:
  events:
    from: bronze.events
    mode: append
    transforms: ${options.silverEvents ?? "[ { cast: { id: integer, customer: integer, amount: integer } } ]"}
  customers:
    from: bronze.customers
    transforms: ${options.customerTransforms ?? "[ { cast: { customer: integer } } ]"}
gold:
  revenue:
    from: silver.events
    transforms:
      - aggregate: { by: [customer], metrics: { total: sum(amount), n: "count(*)" } }
    expect: ${options.goldExpect ?? "[ { not_null: [customer] } ]"}
  names:
    from: silver.customers
    transforms:
      - select: [customer, "upper(name) as name"]
`

const files = {
  "data/events/a.csv": "id,customer,amount\n1,1,10\n2,2,20\n",
  "data/customers.csv": "customer,name\n1,ann\n2,bob\n"
}

const statuses = (report: RunReport) => Object.fromEntries(report.tables.map((t) => [t.table, t.status]))
const reasonOf = (report: RunReport, id: string) => tableOf(report, id).reason ?? ""

/** Everything a run could write: the tables' rows and the ledgers, run history aside. */
const snapshot = Effect.gen(function* () {
  return {
    bronzeEvents: yield* query("SELECT id, customer, amount, _batch_id FROM bronze.events ORDER BY id::INTEGER"),
    bronzeCustomers: yield* query("SELECT customer, name, _batch_id FROM bronze.customers ORDER BY customer"),
    silverEvents: yield* query("SELECT id, customer, amount, _batch_id FROM silver.events ORDER BY id"),
    silverCustomers: yield* query("SELECT * FROM silver.customers ORDER BY customer"),
    revenue: yield* query("SELECT customer, total::INTEGER AS total, n::INTEGER AS n FROM gold.revenue ORDER BY customer"),
    names: yield* query("SELECT * FROM gold.names ORDER BY customer"),
    state: yield* query("SELECT table_id, parts, inputs, data_version, files, updated_at::VARCHAR AS updated_at FROM _medallion.table_state ORDER BY table_id"),
    ingested: yield* query("SELECT table_id, path, checksum, batch_id FROM _medallion.ingested_files ORDER BY path"),
    consumed: yield* query("SELECT table_id, input_id, batch_id FROM _medallion.consumed_batches ORDER BY ALL"),
    batches: yield* query("SELECT batch_id, table_id, record_count::INTEGER AS n FROM _medallion.batches ORDER BY ALL")
  }
})

const revenue = query("SELECT customer, total::INTEGER AS total, n::INTEGER AS n FROM gold.revenue ORDER BY customer")

describe("apply: nothing changed", () => {
  it.effect("a second apply reports every table unchanged and writes nothing", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const plan = planOf(pipeline())
        const first = yield* runPlan(project, plan)
        assert.deepStrictEqual(Object.values(statuses(first)), Array(6).fill("succeeded"))
        for (const id of plan.order) assert.match(reasonOf(first, id), /^create: new table/, id)
        const before = yield* snapshot
        assert.deepStrictEqual(before.revenue, [
          { customer: 1, total: 10, n: 1 },
          { customer: 2, total: 20, n: 1 }
        ])

        const second = yield* runPlan(project, plan)
        assert.deepStrictEqual(statuses(second), {
          "bronze.customers": "unchanged",
          "bronze.events": "unchanged",
          "silver.customers": "unchanged",
          "silver.events": "unchanged",
          "gold.names": "unchanged",
          "gold.revenue": "unchanged"
        })
        for (const t of second.tables) {
          assert.deepStrictEqual([t.rows_in, t.rows_out], [0, 0], t.table)
          assert.strictEqual(t.reason, "unchanged: same definition and inputs as the last run", t.table)
        }
        assert.deepStrictEqual([second.run.status, second.run.records_in, second.run.records_out], ["succeeded", 0, 0])
        assert.deepStrictEqual(yield* snapshot, before)
        assert.deepStrictEqual(yield* query(`SELECT * FROM _medallion.batches WHERE batch_id = '${second.run.batch_id}'`), [])
      })
    )
  )
})

describe("apply: a change rebuilds the table and its downstream only", () => {
  it.effect("changing a silver table's transforms rebuilds it and the gold table reading it", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        yield* runPlan(project, planOf(pipeline()))
        const before = yield* snapshot
        const changed = planOf(pipeline({ customerTransforms: `[ { cast: { customer: integer } }, { derive: { name: "name || '!'" } } ]` }))
        const report = yield* runPlan(project, changed)
        assert.deepStrictEqual(statuses(report), {
          "bronze.customers": "unchanged",
          "bronze.events": "unchanged",
          "silver.customers": "succeeded",
          "silver.events": "unchanged",
          "gold.names": "succeeded",
          "gold.revenue": "unchanged"
        })
        assert.strictEqual(reasonOf(report, "silver.customers"), "rebuild: spec changed: transforms")
        assert.strictEqual(reasonOf(report, "gold.names"), "rebuild: new data in silver.customers")
        assert.deepStrictEqual(yield* query("SELECT * FROM gold.names ORDER BY customer"), [
          { customer: 1, name: "ANN!" },
          { customer: 2, name: "BOB!" }
        ])
        const after = yield* snapshot
        // The rest is untouched: same rows, same batch ids.
        assert.deepStrictEqual(
          [after.bronzeEvents, after.bronzeCustomers, after.silverEvents, after.revenue],
          [before.bronzeEvents, before.bronzeCustomers, before.silverEvents, before.revenue]
        )
        assert.deepStrictEqual(yield* column(`SELECT table_id FROM _medallion.batches WHERE batch_id = '${report.run.batch_id}' ORDER BY table_id`, "table_id"), [
          "gold.names",
          "silver.customers"
        ])
        // And once applied, the new definition is the one remembered.
        assert.deepStrictEqual(Object.values(statuses(yield* runPlan(project, changed))), Array(6).fill("unchanged"))
      })
    )
  )

  it.effect("changing only a gold table's expect rebuilds only that gold table", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        yield* runPlan(project, planOf(pipeline()))
        const report = yield* runPlan(project, planOf(pipeline({ goldExpect: "[ { not_null: [customer] }, { name: big, check: total > 15, on_fail: drop } ]" })))
        assert.deepStrictEqual(statuses(report), {
          "bronze.customers": "unchanged",
          "bronze.events": "unchanged",
          "silver.customers": "unchanged",
          "silver.events": "unchanged",
          "gold.names": "unchanged",
          "gold.revenue": "succeeded"
        })
        const gold = succeeded(report, "gold.revenue")
        assert.strictEqual(gold.reason, "rebuild: spec changed: expect")
        assert.deepStrictEqual([gold.rows_in, gold.rows_out, gold.dropped], [2, 1, 1])
        assert.deepStrictEqual(yield* revenue, [{ customer: 2, total: 20, n: 1 }])
      })
    )
  )
})

describe("apply --full-refresh", () => {
  it.effect("on a selection rebuilds exactly those tables; a bronze append re-ingests every file without doubling", () =>
    inProject({ ...files, "data/events/b.csv": "id,customer,amount\n3,1,5\n" }, (project) =>
      Effect.gen(function* () {
        const plan = planOf(pipeline())
        const first = yield* runPlan(project, plan)
        project.write("data/events/c.csv", "id,customer,amount\n4,2,7\n")
        const second = yield* runPlan(project, plan)
        assert.strictEqual(reasonOf(second, "bronze.events"), "incremental: files changed; 1 file(s), 2 already ingested")
        assert.strictEqual(yield* countOf("bronze.events"), 4)
        const before = yield* snapshot
        const arrivals = "SELECT id, _batch_id, CAST(_ingested_at AS VARCHAR) AS at, _source_file, _source_row FROM bronze.events ORDER BY id::INTEGER"
        const arrived = yield* query(arrivals)

        const refresh = yield* runPlan(project, plan, ["bronze.events"], { fullRefresh: true })
        assert.deepStrictEqual(statuses(refresh), { "bronze.events": "succeeded" })
        const b = succeeded(refresh, "bronze.events")
        assert.strictEqual(b.reason, "rebuild: --full-refresh; 3 file(s)")
        assert.deepStrictEqual([b.rows_in, b.rows_out], [4, 4])
        assertBalanced(b)
        // Every row again, once, each file with the batch and time that first ingested it: arrival order survives.
        assert.deepStrictEqual(yield* query(arrivals), arrived)
        assert.deepStrictEqual(
          (yield* query("SELECT DISTINCT _batch_id FROM bronze.events ORDER BY 1")).map((r) => r["_batch_id"]),
          [first.run.batch_id, second.run.batch_id].toSorted()
        )
        assert.deepStrictEqual(
          yield* query("SELECT count(*)::INTEGER AS n, count(DISTINCT batch_id)::INTEGER AS batches FROM _medallion.ingested_files WHERE table_id = 'bronze.events'"),
          [{ n: 3, batches: 2 }]
        )
        // Tables outside the selection were not touched.
        const after = yield* snapshot
        assert.deepStrictEqual([after.silverEvents, after.revenue, after.bronzeCustomers], [before.silverEvents, before.revenue, before.bronzeCustomers])
        assert.notStrictEqual(first.run.batch_id, refresh.run.batch_id)
      })
    )
  )

  it.effect("on silver.events+ rebuilds silver.events and gold.revenue from all their input", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const plan = planOf(pipeline())
        yield* runPlan(project, plan)
        project.write("data/events/b.csv", "id,customer,amount\n3,1,5\n")
        yield* runPlan(project, plan)
        const refresh = yield* runPlan(project, plan, ["silver.events+"], { fullRefresh: true })
        assert.deepStrictEqual(statuses(refresh), { "silver.events": "succeeded", "gold.revenue": "succeeded" })
        const silver = succeeded(refresh, "silver.events")
        assert.strictEqual(silver.reason, "rebuild: --full-refresh")
        assert.deepStrictEqual([silver.rows_in, silver.rows_out], [3, 3])
        assert.strictEqual(reasonOf(refresh, "gold.revenue"), "rebuild: --full-refresh")
        assert.strictEqual(yield* countOf("silver.events"), 3)
        assert.deepStrictEqual(yield* revenue, [
          { customer: 1, total: 15, n: 2 },
          { customer: 2, total: 20, n: 1 }
        ])
        // The silver append's ledger now holds both bronze batches once, and the next apply has nothing to do.
        assert.strictEqual(yield* countOf("_medallion.consumed_batches WHERE table_id = 'silver.events'"), 2)
        assert.deepStrictEqual(Object.values(statuses(yield* runPlan(project, plan))), Array(6).fill("unchanged"))
        assert.strictEqual(yield* countOf("silver.events"), 3)
      })
    )
  )
})

describe("apply: a new file in an incremental source", () => {
  it.effect("bronze takes only that file, the silver append only the new batch, gold rebuilds", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const plan = planOf(pipeline())
        const first = yield* runPlan(project, plan)
        project.write("data/events/b.csv", "id,customer,amount\n3,1,5\n4,3,1\n5,3,2\n")
        const report = yield* runPlan(project, plan)
        assert.deepStrictEqual(statuses(report), {
          "bronze.customers": "unchanged",
          "bronze.events": "succeeded",
          "silver.customers": "unchanged",
          "silver.events": "succeeded",
          "gold.names": "unchanged",
          "gold.revenue": "succeeded"
        })
        const bronze = succeeded(report, "bronze.events")
        assert.deepStrictEqual([bronze.rows_in, bronze.rows_out], [3, 3])
        assert.strictEqual(bronze.reason, "incremental: files changed; 1 file(s), 1 already ingested")
        const silver = succeeded(report, "silver.events")
        assert.deepStrictEqual([silver.rows_in, silver.rows_out], [3, 3])
        assert.strictEqual(silver.reason, "incremental: new data in bronze.events; 1 new input batch(es)")
        const gold = succeeded(report, "gold.revenue")
        assert.strictEqual(gold.reason, "rebuild: new data in silver.events")
        assert.deepStrictEqual([gold.rows_in, gold.rows_out], [3, 3])
        assert.deepStrictEqual(yield* query("SELECT id, _batch_id FROM silver.events ORDER BY id"), [
          { id: 1, _batch_id: first.run.batch_id },
          { id: 2, _batch_id: first.run.batch_id },
          { id: 3, _batch_id: report.run.batch_id },
          { id: 4, _batch_id: report.run.batch_id },
          { id: 5, _batch_id: report.run.batch_id }
        ])
        assert.deepStrictEqual(yield* revenue, [
          { customer: 1, total: 15, n: 2 },
          { customer: 2, total: 20, n: 1 },
          { customer: 3, total: 3, n: 2 }
        ])
      })
    )
  )
})

describe("apply: source checksums", () => {
  const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")
  const stateInputs = (table: string) =>
    Effect.map(query(`SELECT inputs FROM _medallion.table_state WHERE table_id = '${table}'`), (r) => JSON.parse(String(r[0]?.["inputs"])) as Record<string, string>)
  const batchChecksum = (table: string, batch: string) =>
    Effect.map(query(`SELECT checksum FROM _medallion.batches WHERE table_id = '${table}' AND batch_id = '${batch}'`), (r) => r.map((x) => x["checksum"]))

  it.effect("a first load records each file's sha256 (hashed while the table reads it) in state, batches and the ledger", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const first = yield* runPlan(project, planOf(pipeline()))
        const customers = join(project.dir, "data/customers.csv")
        assert.deepStrictEqual(yield* stateInputs("bronze.customers"), { [customers]: sha256(files["data/customers.csv"]) })
        assert.deepStrictEqual(yield* batchChecksum("bronze.customers", first.run.batch_id), [sha256(files["data/customers.csv"])])
        assert.deepStrictEqual(yield* query("SELECT checksum FROM _medallion.ingested_files"), [{ checksum: sha256(files["data/events/a.csv"]) }])
      })
    )
  )

  it.effect("a file rewritten with the same content and size is unchanged, whatever its modification time", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const plan = planOf(pipeline())
        yield* runPlan(project, plan)
        project.write("data/customers.csv", files["data/customers.csv"])
        const later = new Date(Date.now() + 60_000)
        utimesSync(join(project.dir, "data/customers.csv"), later, later)
        const second = yield* runPlan(project, plan)
        assert.strictEqual(tableOf(second, "bronze.customers").status, "unchanged")
      })
    )
  )

  it.effect("a file whose size changed is rebuilt and its new checksum stored", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const plan = planOf(pipeline())
        yield* runPlan(project, plan)
        const text = "customer,name\n1,ann\n2,bob\n3,cyd\n"
        project.write("data/customers.csv", text)
        const second = yield* runPlan(project, plan)
        assert.strictEqual(reasonOf(second, "bronze.customers"), "rebuild: files changed; 1 file(s)")
        assert.deepStrictEqual(yield* stateInputs("bronze.customers"), { [join(project.dir, "data/customers.csv")]: sha256(text) })
        assert.deepStrictEqual(yield* batchChecksum("bronze.customers", second.run.batch_id), [sha256(text)])
      })
    )
  )
})

describe("apply: changed files (same path, new content)", () => {
  const changeA = (project: TestProject) => project.write("data/events/a.csv", "id,customer,amount\n1,1,10\n2,2,25\n9,1,1\n")

  it.effect("by default fail the bronze table naming the file and on_change; nothing is ingested and dependents are skipped", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const plan = planOf(pipeline())
        yield* runPlan(project, plan)
        const before = yield* snapshot
        changeA(project)
        const report = yield* runPlan(project, plan)
        const bronze = tableOf(report, "bronze.events")
        assert.strictEqual(bronze.status, "failed")
        assert.include(bronze.error, "bronze.events: this file changed after it was ingested (same path, new content); nothing was ingested")
        assert.include(bronze.error, "on_change: ingest")
        assert.include(bronze.error, `${project.dir}/data/events/a.csv`)
        assert.deepStrictEqual(statuses(report), {
          "bronze.customers": "unchanged",
          "bronze.events": "failed",
          "silver.customers": "unchanged",
          "silver.events": "skipped",
          "gold.names": "unchanged",
          "gold.revenue": "skipped"
        })
        assert.strictEqual(reasonOf(report, "silver.events"), "upstream bronze.events failed")
        assert.strictEqual(reasonOf(report, "gold.revenue"), "upstream silver.events skipped")
        assert.strictEqual(report.run.status, "failed")
        assert.deepStrictEqual(yield* snapshot, before)
        // It keeps failing until the file is restored; then nothing is left to do.
        assert.strictEqual(tableOf(yield* runPlan(project, plan), "bronze.events").status, "failed")
        project.write("data/events/a.csv", files["data/events/a.csv"])
        assert.deepStrictEqual(Object.values(statuses(yield* runPlan(project, plan))), Array(6).fill("unchanged"))
        assert.deepStrictEqual(yield* snapshot, { ...before, state: (yield* snapshot).state })
      })
    )
  )

  it.effect("on_change: ingest adds the new version as a new batch, with a note", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const plan = planOf(pipeline({ onChange: "ingest" }))
        const first = yield* runPlan(project, plan)
        changeA(project)
        const report = yield* runPlan(project, plan)
        const bronze = succeeded(report, "bronze.events")
        assert.deepStrictEqual([bronze.rows_in, bronze.rows_out], [3, 3])
        assert.include(bronze.reason, `${project.dir}/data/events/a.csv changed after ingestion: ingested again as a new batch (on_change: ingest)`)
        // Both versions are kept in bronze, each as its own batch.
        // (Ordered by run: under the TestClock batch ids share a timestamp and differ only in their random part.)
        assert.deepStrictEqual(yield* query(`SELECT id, amount, _batch_id FROM bronze.events ORDER BY _batch_id = '${report.run.batch_id}', id::INTEGER`), [
          { id: "1", amount: "10", _batch_id: first.run.batch_id },
          { id: "2", amount: "20", _batch_id: first.run.batch_id },
          { id: "1", amount: "10", _batch_id: report.run.batch_id },
          { id: "2", amount: "25", _batch_id: report.run.batch_id },
          { id: "9", amount: "1", _batch_id: report.run.batch_id }
        ])
        assert.strictEqual(succeeded(report, "silver.events").rows_in, 3)
        assert.strictEqual(yield* countOf("silver.events"), 5)
        // The ledger now holds the new version of the file.
        assert.deepStrictEqual(
          yield* query(`SELECT size::INTEGER AS size, batch_id = '${report.run.batch_id}' AS latest FROM _medallion.ingested_files WHERE path LIKE '%a.csv' ORDER BY latest`),
          [
            { size: 33, latest: false },
            { size: 39, latest: true }
          ]
        )
        assert.deepStrictEqual(Object.values(statuses(yield* runPlan(project, plan))), Array(6).fill("unchanged"))
        assert.strictEqual(yield* countOf("bronze.events"), 5)
      })
    )
  )

  it.effect("on_change: skip leaves bronze as it was, with a note, and touches nothing downstream", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const plan = planOf(pipeline({ onChange: "skip" }))
        yield* runPlan(project, plan)
        const before = yield* snapshot
        changeA(project)
        const report = yield* runPlan(project, plan)
        const bronze = succeeded(report, "bronze.events")
        assert.deepStrictEqual([bronze.rows_in, bronze.rows_out], [0, 0])
        assert.include(bronze.reason, `${project.dir}/data/events/a.csv changed after ingestion: skipped (on_change: skip)`)
        assert.deepStrictEqual(statuses(report), {
          "bronze.customers": "unchanged",
          "bronze.events": "succeeded",
          "silver.customers": "unchanged",
          "silver.events": "unchanged",
          "gold.names": "unchanged",
          "gold.revenue": "unchanged"
        })
        const after = yield* snapshot
        assert.deepStrictEqual({ ...after, state: [] }, { ...before, state: [] })
        // A new file is still taken; the changed one stays skipped.
        project.write("data/events/b.csv", "id,customer,amount\n3,2,1\n")
        const next = yield* runPlan(project, plan)
        assert.deepStrictEqual([succeeded(next, "bronze.events").rows_out, succeeded(next, "silver.events").rows_out], [1, 1])
        assert.deepStrictEqual(yield* column("SELECT id FROM bronze.events ORDER BY id::INTEGER", "id"), ["1", "2", "3"])
      })
    )
  )
})

describe("apply: empty files and missing files", () => {
  it.effect("an empty file (0 bytes) is skipped with a note, and nothing else is touched", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const plan = planOf(pipeline())
        yield* runPlan(project, plan)
        const before = yield* snapshot
        project.write("data/events/empty.csv", "")
        const report = yield* runPlan(project, plan)
        const bronze = succeeded(report, "bronze.events")
        assert.include(bronze.reason, `${project.dir}/data/events/empty.csv is empty (0 bytes): skipped`)
        assert.deepStrictEqual([bronze.rows_in, bronze.rows_out], [0, 0])
        assert.deepStrictEqual(statuses(report), {
          "bronze.customers": "unchanged",
          "bronze.events": "succeeded",
          "silver.customers": "unchanged",
          "silver.events": "unchanged",
          "gold.names": "unchanged",
          "gold.revenue": "unchanged"
        })
        assert.deepStrictEqual({ ...(yield* snapshot), state: [] }, { ...before, state: [] })
      })
    )
  )

  it.effect("an empty file next to others on the first apply is skipped and the rest ingested", () =>
    inProject({ ...files, "data/events/0.csv": "" }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(project, planOf(pipeline()))
        const bronze = succeeded(report, "bronze.events")
        assert.deepStrictEqual([bronze.rows_in, bronze.rows_out], [2, 2])
        assert.include(bronze.reason, "0.csv is empty (0 bytes): skipped")
        assert.strictEqual(yield* countOf("silver.events"), 2)
      })
    )
  )

  it.effect("a glob that matches nothing fails the bronze table with an error naming the path", () =>
    inProject({ "data/customers.csv": files["data/customers.csv"] }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(project, planOf(pipeline()))
        const bronze = tableOf(report, "bronze.events")
        assert.strictEqual(bronze.status, "failed")
        assert.include(bronze.error, "bronze.events: no files match the source path")
        assert.include(bronze.error, "(data/events/*.csv)")
        assert.deepStrictEqual([tableOf(report, "silver.events").status, tableOf(report, "gold.revenue").status], ["skipped", "skipped"])
        succeeded(report, "gold.names")
      })
    )
  )
})

describe("apply: schema drift", () => {
  const planned = (project: TestProject, plan: Plan) =>
    Effect.gen(function* () {
      const selected = selectTables(plan, [])
      if (Result.isFailure(selected)) return assert.fail(selected.failure.message)
      const situation = yield* loadSituation
      const tables = yield* planChanges(plan, selected.success, situation, { projectDir: project.dir, fullRefresh: new Set() })
      return Object.fromEntries(tables.map((t) => [t.table, t]))
    })

  it.effect("a new file with an extra column adds it to bronze (old rows NULL) and the silver append passes it through", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const plan = planOf(pipeline())
        yield* runPlan(project, plan)
        project.write("data/events/b.csv", "id,customer,amount,channel\n3,1,5,web\n")
        // The plan shows the new column before anything is applied.
        const preview = yield* planned(project, plan)
        assert.deepStrictEqual(
          [preview["bronze.events"]!.action, preview["bronze.events"]!.new_inputs, preview["bronze.events"]!.new_rows, preview["bronze.events"]!.new_columns],
          ["incremental", 1, 1, ["channel"]]
        )
        assert.notInclude(yield* columnsOf("bronze", "events"), "channel")

        const report = yield* runPlan(project, plan)
        const bronze = succeeded(report, "bronze.events")
        assert.include(bronze.reason, "bronze.events: new columns channel")
        assert.include(yield* columnsOf("bronze", "events"), "channel")
        assert.deepStrictEqual(yield* query("SELECT id, channel FROM bronze.events ORDER BY id::INTEGER"), [
          { id: "1", channel: null },
          { id: "2", channel: null },
          { id: "3", channel: "web" }
        ])
        const silver = succeeded(report, "silver.events")
        assert.include(silver.reason, "silver.events: new columns channel")
        assert.deepStrictEqual(yield* query("SELECT id, channel FROM silver.events ORDER BY id"), [
          { id: 1, channel: null },
          { id: 2, channel: null },
          { id: 3, channel: "web" }
        ])
        assert.deepStrictEqual(yield* revenue, [
          { customer: 1, total: 15, n: 2 },
          { customer: 2, total: 20, n: 1 }
        ])
      })
    )
  )

  it.effect("a new file missing a column gives NULLs there, with a note", () =>
    inProject(files, (project) =>
      Effect.gen(function* () {
        const plan = planOf(pipeline())
        yield* runPlan(project, plan)
        project.write("data/events/b.csv", "id,customer\n3,1\n4,2\n")
        const preview = yield* planned(project, plan)
        assert.deepStrictEqual([preview["bronze.events"]!.new_rows, preview["bronze.events"]!.new_columns], [2, []])
        const report = yield* runPlan(project, plan)
        const bronze = succeeded(report, "bronze.events")
        assert.include(bronze.reason, "bronze.events: no values for amount (NULL)")
        assert.deepStrictEqual(yield* query("SELECT id, amount FROM bronze.events ORDER BY id::INTEGER"), [
          { id: "1", amount: "10" },
          { id: "2", amount: "20" },
          { id: "3", amount: null },
          { id: "4", amount: null }
        ])
        assert.deepStrictEqual([succeeded(report, "silver.events").rows_out, yield* countOf("silver.events WHERE amount IS NULL")], [2, 2])
        assert.deepStrictEqual(yield* revenue, [
          { customer: 1, total: 10, n: 2 },
          { customer: 2, total: 20, n: 2 }
        ])
      })
    )
  )
})
