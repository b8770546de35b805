/**
 * An incremental run and a rebuild give the same rows: order-dependent steps break ties by arrival
 * (`_ingested_at`, `_source_file`, `_source_row`), which a rebuild reproduces; a merge keeps the
 * newest row that passes its expectations; and what looks across rows of an append or merge either
 * looks at the whole table or is refused by validate.
 *
 * On the real clock (it.live): each apply then has its own `_ingested_at`, and the later files are
 * named to sort before the first ones, so only their time of arrival can make them win.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { buildPlan } from "../../src/plan/Plan.ts"
import { parsePipeline } from "../../src/spec/parse.ts"
import { planOf, runPlan, type TestProject } from "../support/project.ts"
import { inProject, query, succeeded, tableOf } from "./harness.ts"

const source = (extra = "") => `
version: 1
pipeline: arrival
sources: { raw: { format: csv, path: "data/*.csv", incremental: true } }
bronze: { events: { from: raw } }
${extra}`

const rebuildAll = (project: TestProject, text: string) => runPlan(project, planOf(text), [], { fullRefresh: true })

describe("incremental runs and a rebuild agree", () => {
  it.live("dedupe with order_by _ingested_at desc keeps the latest arrival, and a rebuild keeps it too, every time", () =>
    inProject({ "data/a.csv": "id,v\n1,old\n2,old\n" }, (project) =>
      Effect.gen(function* () {
        const text = source(`
silver:
  latest:
    from: bronze.events
    transforms: [ { dedupe: { keys: [id], order_by: _ingested_at desc } } ]
`)
        yield* runPlan(project, planOf(text))
        project.write("data/0-later.csv", "id,v\n2,new\n")
        succeeded(yield* runPlan(project, planOf(text)), "silver.latest")
        const latest = "SELECT id, v FROM silver.latest ORDER BY id"
        const expected = [
          { id: "1", v: "old" },
          { id: "2", v: "new" }
        ]
        assert.deepStrictEqual(yield* query(latest), expected)
        for (let i = 0; i < 3; i++) {
          succeeded(yield* rebuildAll(project, text), "silver.latest")
          assert.deepStrictEqual(yield* query(latest), expected, `rebuild ${i + 1}`)
        }
      })
    )
  )

  it.live("ties within one file follow the row order: keep first takes the first row, keep last the last, order_by desc the later", () =>
    inProject({ "data/a.csv": "id,v,rank\n1,first,5\n1,second,5\n1,third,5\n" }, (project) =>
      Effect.gen(function* () {
        const text = source(`
silver:
  first: { from: bronze.events, transforms: [ { dedupe: { keys: [id] } } ] }
  last: { from: bronze.events, transforms: [ { dedupe: { keys: [id], keep: last } } ] }
  top: { from: bronze.events, transforms: [ { dedupe: { keys: [id], order_by: rank desc } } ] }
  bottom: { from: bronze.events, transforms: [ { filter: "v <> 'x'" }, { dedupe: { keys: [id], order_by: rank } } ] }
`)
        const picked = Effect.gen(function* () {
          const out: Record<string, unknown> = {}
          for (const t of ["first", "last", "top", "bottom"]) out[t] = (yield* query(`SELECT v FROM silver.${t}`)).map((r) => r["v"])
          return out
        })
        yield* runPlan(project, planOf(text))
        const expected = { first: ["first"], last: ["third"], top: ["third"], bottom: ["first"] }
        assert.deepStrictEqual(yield* picked, expected)
        yield* rebuildAll(project, text)
        assert.deepStrictEqual(yield* picked, expected)
      })
    )
  )

  it.live("merge: a newer version that is quarantined never replaces the stored one; ties go to the later arrival; a rebuild agrees", () =>
    inProject({ "data/a.csv": "id,amount,seq\n1,10,1\n2,20,1\n3,30,1\n" }, (project) =>
      Effect.gen(function* () {
        const text = source(`
silver:
  orders:
    from: bronze.events
    mode: merge
    key: [id]
    sequence_by: seq
    transforms: [ { cast: { columns: { amount: int, seq: int }, on_error: quarantine } } ]
    expect: [ { name: positive, check: amount > 0, on_fail: quarantine } ]
`)
        yield* runPlan(project, planOf(text))
        // id 1: a newer, bad version (quarantined); id 2: a tie on seq (the later arrival wins); id 3: an older, late version.
        project.write("data/0-later.csv", "id,amount,seq\n1,-5,2\n2,21,1\n3,29,0\n")
        const second = yield* runPlan(project, planOf(text))
        const t = succeeded(second, "silver.orders")
        assert.strictEqual(t.quarantined, 1)
        const merged = "SELECT id, amount, seq FROM silver.orders ORDER BY id"
        const expected = [
          { id: "1", amount: 10, seq: 1 },
          { id: "2", amount: 21, seq: 1 },
          { id: "3", amount: 30, seq: 1 }
        ]
        assert.deepStrictEqual(yield* query(merged), expected)
        const rebuilt = yield* rebuildAll(project, text)
        const r = succeeded(rebuilt, "silver.orders")
        assert.deepStrictEqual([r.rows_in, r.rows_out, r.quarantined, r.duplicates], [6, 3, 1, 2])
        assert.deepStrictEqual(yield* query(merged), expected)
      })
    )
  )

  it.live("unique on an append looks at the rows already published: a key sent again fails the batch, as a rebuild would", () =>
    inProject({ "data/a.csv": "id,v\n1,a\n2,b\n" }, (project) =>
      Effect.gen(function* () {
        const text = source(`
silver:
  events:
    from: bronze.events
    mode: append
    expect: [ { unique: [id], on_fail: fail } ]
`)
        succeeded(yield* runPlan(project, planOf(text)), "silver.events")
        project.write("data/0-later.csv", "id,v\n2,again\n3,c\n")
        const second = yield* runPlan(project, planOf(text))
        const t = tableOf(second, "silver.events")
        assert.strictEqual(t.status, "failed")
        assert.include(t.error ?? "", "expectation unique(id) failed for 1 row(s)")
        assert.deepStrictEqual(yield* query("SELECT id, v FROM silver.events ORDER BY id"), [
          { id: "1", v: "a" },
          { id: "2", v: "b" }
        ])
        const rebuilt = yield* rebuildAll(project, text)
        assert.strictEqual(tableOf(rebuilt, "silver.events").status, "failed")
      })
    )
  )
})

describe("unique counts only the rows that would be published", () => {
  it.live("a repeated key whose other row is quarantined passes, in an incremental run and a rebuild alike", () =>
    inProject({ "data/a.csv": "id,amount\n2,-1\n2,4\n1,6\n5,-3\n" }, (project) =>
      Effect.gen(function* () {
        const text = source(`
silver:
  events:
    from: bronze.events
    mode: append
    transforms: [ { cast: { columns: { id: int, amount: int }, on_error: quarantine } } ]
    expect:
      - { name: positive, check: amount > 0, on_fail: quarantine }
      - { unique: [id], on_fail: fail }
`)
        succeeded(yield* runPlan(project, planOf(text)), "silver.events")
        // id 5 arrived quarantined, so it is not in the table: a valid id 5 later is new.
        project.write("data/0-later.csv", "id,amount\n5,3\n")
        succeeded(yield* runPlan(project, planOf(text)), "silver.events")
        const published = "SELECT id, amount FROM silver.events ORDER BY id"
        const expected = [
          { id: 1, amount: 6 },
          { id: 2, amount: 4 },
          { id: 5, amount: 3 }
        ]
        assert.deepStrictEqual(yield* query(published), expected)
        succeeded(yield* rebuildAll(project, text), "silver.events")
        assert.deepStrictEqual(yield* query(published), expected)
        assert.deepStrictEqual(yield* query("SELECT id, amount FROM silver.events__quarantine ORDER BY id"), [
          { id: 2, amount: -1 },
          { id: 5, amount: -3 }
        ])
      })
    )
  )
})

describe("validate refuses what only sees the new batch", () => {
  const problems = (silver: string): ReadonlyArray<string> => {
    const parsed = parsePipeline("p.yaml", source(`silver:\n${silver}`))
    if (Result.isFailure(parsed)) return [parsed.failure.message]
    const plan = buildPlan([parsed.success])
    return Result.isFailure(plan) ? plan.failure.problems.map((p) => `${p.line}:${p.column} ${p.message}`) : []
  }

  it("a dedupe in an append or merge table, located at the step", () => {
    const append = problems("  s: { from: bronze.events, mode: append, transforms: [ { dedupe: { keys: [id] } } ] }\n")
    assert.strictEqual(append.length, 1)
    assert.match(append[0]!, /^7:59 silver\.s: a dedupe in an append table sees only each new batch.*use mode: merge/)
    const merge = problems("  s: { from: bronze.events, mode: merge, key: [id], sequence_by: ts, transforms: [ { dedupe: { keys: [id] } } ] }\n")
    assert.match(merge[0] ?? "", /mode: merge already keeps one row per key/)
    // A change of grain rebuilds the table every run: the dedupe then sees every row.
    assert.deepStrictEqual(
      problems("  s: { from: bronze.events, mode: append, transforms: [ { dedupe: { keys: [id] } }, { aggregate: { by: [id], metrics: { n: count(*) } } } ] }\n"),
      []
    )
  })

  it("unique with drop or quarantine on an append, and unique without the key on a merge", () => {
    assert.match(
      problems("  s: { from: bronze.events, mode: append, expect: [ { unique: [id], on_fail: quarantine } ] }\n")[0] ?? "",
      /an append table checks unique against the rows already published.*use on_fail: fail or warn/
    )
    assert.deepStrictEqual(problems("  s: { from: bronze.events, mode: append, expect: [ { unique: [id], on_fail: fail } ] }\n"), [])
    assert.match(
      problems("  s: { from: bronze.events, mode: merge, key: [id], sequence_by: ts, expect: [ { unique: [email] } ] }\n")[0] ?? "",
      /a merge table holds one row per key \(id\), so unique must include the key columns/
    )
    assert.deepStrictEqual(problems("  s: { from: bronze.events, mode: merge, key: [id], sequence_by: ts, expect: [ { unique: [id, email] } ] }\n"), [])
  })
})
