/**
 * mode: merge: upserts by key, ordered by sequence_by (an older row never replaces a
 * newer one), one row per key from each batch (the rest counted as duplicates), and only the new
 * input batches of an append input.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { planOf, runPlan } from "../support/project.ts"
import { assertBalanced, columnsOf, countsOf, inProject, query, succeeded } from "./harness.ts"

const pipeline = (merge: string) => `
version: 1
pipeline: crm
sources:
  updates: { format: csv, path: "data/updates/*.csv", incremental: true }
bronze:
  updates: { from: updates }
silver:
  customers:
    from: bronze.updates
    mode: merge
    key: [id]
${merge}
    transforms: [ { cast: { id: integer, version: integer } } ]
gold:
  summary:
    from: silver.customers
    transforms:
      - aggregate: { metrics: { customers: "count(*)", versions: sum(version) } }
`

const withSequence = pipeline("    sequence_by: version")
const withoutSequence = pipeline("")

const customers = query("SELECT id, version, name FROM silver.customers ORDER BY id")
const summary = query("SELECT customers::INTEGER AS customers, versions::INTEGER AS versions FROM gold.summary")

describe("mode: merge with key and sequence_by", () => {
  it.effect("inserts new keys, updates with newer rows, never with older ones, and keeps the newest of a batch's duplicates", () =>
    inProject({ "data/updates/1.csv": "id,version,name\n1,1,ann\n2,1,bob\n2,2,bobby\n" }, (project) =>
      Effect.gen(function* () {
        const plan = planOf(withSequence)
        const first = yield* runPlan(project, plan)
        const c1 = succeeded(first, "silver.customers")
        assert.strictEqual(c1.reason, "create: new table")
        assert.deepStrictEqual(countsOf(c1), { rows_in: 3, rows_out: 2, quarantined: 0, dropped: 0, duplicates: 1, rejected: 0, dropped_by_reason: {} })
        assertBalanced(c1)
        assert.deepStrictEqual(yield* customers, [
          { id: 1, version: 1, name: "ann" },
          { id: 2, version: 2, name: "bobby" }
        ])

        // Key 1 gets a newer row, key 2 a late (older) one, key 3 is new and arrives twice.
        project.write("data/updates/2.csv", "id,version,name\n1,3,anne\n2,1,bob-late\n3,2,cy\n3,1,cyrus-old\n")
        const second = yield* runPlan(project, plan)
        const c2 = succeeded(second, "silver.customers")
        assert.deepStrictEqual(countsOf(c2), { rows_in: 4, rows_out: 3, quarantined: 0, dropped: 0, duplicates: 1, rejected: 0, dropped_by_reason: {} })
        assertBalanced(c2)
        assert.strictEqual(c2.reason, "incremental: new data in bronze.updates; 1 new input batch(es); 1 row(s) older than the stored version of their key were not applied")
        assert.deepStrictEqual(yield* customers, [
          { id: 1, version: 3, name: "anne" },
          { id: 2, version: 2, name: "bobby" },
          { id: 3, version: 2, name: "cy" }
        ])
        // Rows keep the batch they came from: key 2 still carries the first run's batch.
        assert.deepStrictEqual(yield* query("SELECT id, _batch_id FROM silver.customers ORDER BY id"), [
          { id: 1, _batch_id: second.run.batch_id },
          { id: 2, _batch_id: first.run.batch_id },
          { id: 3, _batch_id: second.run.batch_id }
        ])
        const gold = succeeded(second, "gold.summary")
        assert.strictEqual(gold.reason, "rebuild: new data in silver.customers")
        assert.deepStrictEqual(yield* summary, [{ customers: 3, versions: 7 }])
      })
    )
  )

  it.effect("a batch holding only older rows changes no row values, and says so", () =>
    inProject({ "data/updates/1.csv": "id,version,name\n1,5,ann\n2,5,bob\n" }, (project) =>
      Effect.gen(function* () {
        const plan = planOf(withSequence)
        yield* runPlan(project, plan)
        project.write("data/updates/2.csv", "id,version,name\n1,4,old-ann\n2,1,old-bob\n")
        const report = yield* runPlan(project, plan)
        const c = succeeded(report, "silver.customers")
        assert.include(c.reason, "2 row(s) older than the stored version of their key were not applied")
        assert.deepStrictEqual([c.rows_in, c.rows_out, c.duplicates], [2, 2, 0])
        assert.deepStrictEqual(yield* customers, [
          { id: 1, version: 5, name: "ann" },
          { id: 2, version: 5, name: "bob" }
        ])
      })
    )
  )

  it.effect("re-applying with nothing new leaves the merge unchanged; a rebuild gives the same rows as the merges did", () =>
    inProject({ "data/updates/1.csv": "id,version,name\n1,1,ann\n2,2,bob\n" }, (project) =>
      Effect.gen(function* () {
        const plan = planOf(withSequence)
        yield* runPlan(project, plan)
        project.write("data/updates/2.csv", "id,version,name\n1,2,anne\n2,1,late\n3,1,cy\n")
        yield* runPlan(project, plan)
        const merged = yield* customers
        assert.deepStrictEqual(merged, [
          { id: 1, version: 2, name: "anne" },
          { id: 2, version: 2, name: "bob" },
          { id: 3, version: 1, name: "cy" }
        ])

        const again = yield* runPlan(project, plan)
        assert.deepStrictEqual(
          again.tables.map((t) => [t.table, t.status]),
          [
            ["bronze.updates", "unchanged"],
            ["silver.customers", "unchanged"],
            ["gold.summary", "unchanged"]
          ]
        )
        assert.deepStrictEqual(yield* customers, merged)
        assert.deepStrictEqual(yield* query(`SELECT * FROM _medallion.batches WHERE batch_id = '${again.run.batch_id}'`), [])

        const refresh = yield* runPlan(project, plan, ["silver.customers"], { fullRefresh: true })
        const c = succeeded(refresh, "silver.customers")
        assert.strictEqual(c.reason, "rebuild: --full-refresh")
        assert.deepStrictEqual([c.rows_in, c.rows_out, c.duplicates], [5, 3, 2])
        assert.deepStrictEqual(yield* customers, merged)
      })
    )
  )

  it.effect("a new column in the input is added to the merged table, NULL for rows merged before", () =>
    inProject({ "data/updates/1.csv": "id,version,name\n1,1,ann\n2,1,bob\n" }, (project) =>
      Effect.gen(function* () {
        const plan = planOf(withSequence)
        yield* runPlan(project, plan)
        project.write("data/updates/2.csv", "id,version,name,tier\n2,2,bob,gold\n")
        const c = succeeded(yield* runPlan(project, plan), "silver.customers")
        assert.include(c.reason, "silver.customers: new columns tier")
        assert.include(yield* columnsOf("silver", "customers"), "tier")
        assert.deepStrictEqual(yield* query("SELECT id, version, tier FROM silver.customers ORDER BY id"), [
          { id: 1, version: 1, tier: null },
          { id: 2, version: 2, tier: "gold" }
        ])
      })
    )
  )
})

describe("mode: merge without sequence_by", () => {
  it("is a validation error: without an order, which version wins would be arbitrary on a rebuild", () => {
    assert.throws(() => planOf(withoutSequence), /mode: merge needs key: \[columns\] that identify a row and sequence_by/)
  })
})

describe("mode: merge over a replace input", () => {
  const snapshot = `
version: 1
pipeline: crm
sources:
  snapshot: { format: csv, path: data/snapshot.csv }
bronze:
  snapshot: { from: snapshot }
silver:
  customers:
    from: bronze.snapshot
    mode: merge
    key: [id]
    sequence_by: version
    transforms: [ { cast: { id: integer, version: integer } } ]
`

  it.effect("merges all of the input each time it changes, and nothing when it does not", () =>
    inProject({ "data/snapshot.csv": "id,version,name\n1,1,ann\n2,1,bob\n2,2,bobby\n" }, (project) =>
      Effect.gen(function* () {
        const plan = planOf(snapshot)
        const first = yield* runPlan(project, plan)
        assert.deepStrictEqual([succeeded(first, "silver.customers").rows_out, succeeded(first, "silver.customers").duplicates], [2, 1])
        assert.deepStrictEqual(yield* customers, [
          { id: 1, version: 1, name: "ann" },
          { id: 2, version: 2, name: "bobby" }
        ])

        project.write("data/snapshot.csv", "id,version,name\n1,2,anne\n2,2,bobby\n3,1,cy\n")
        const second = yield* runPlan(project, plan)
        const c = succeeded(second, "silver.customers")
        assert.include(c.reason, "incremental: new data in bronze.snapshot (merged in whole: the input is rebuilt, not appended)")
        assert.deepStrictEqual([c.rows_in, c.rows_out, c.duplicates], [3, 3, 0])
        assertBalanced(c)
        assert.deepStrictEqual(yield* customers, [
          { id: 1, version: 2, name: "anne" },
          { id: 2, version: 2, name: "bobby" },
          { id: 3, version: 1, name: "cy" }
        ])

        const again = yield* runPlan(project, plan)
        assert.deepStrictEqual(
          again.tables.map((t) => t.status),
          ["unchanged", "unchanged"]
        )
        assert.strictEqual((yield* customers).length, 3)
      })
    )
  )

  it.effect("keeps keys the input no longer has and never lets an older version replace a newer one", () =>
    inProject({ "data/snapshot.csv": "id,version,name\n1,5,ann\n2,1,bob\n" }, (project) =>
      Effect.gen(function* () {
        const plan = planOf(snapshot)
        yield* runPlan(project, plan)
        project.write("data/snapshot.csv", "id,version,name\n1,3,older\n3,1,cy\n")
        const c = succeeded(yield* runPlan(project, plan), "silver.customers")
        assert.include(c.reason, "1 row(s) older than the stored version of their key were not applied")
        assert.deepStrictEqual(yield* customers, [
          { id: 1, version: 5, name: "ann" },
          { id: 2, version: 1, name: "bob" },
          { id: 3, version: 1, name: "cy" }
        ])
      })
    )
  )
})
