/**
 * decide(): what a table needs (create, rebuild, incremental, skip) and the reasons given, from
 * its definition parts, its inputs and the state its last run stored. Pure: no warehouse.
 */
import { assert, describe, it } from "@effect/vitest"
import { duckdb } from "../../src/compile/duckdb.ts"
import { definitionParts } from "../../src/compile/fingerprint.ts"
import { type Action, actionName, decide, type DecideInput, runsIncrementally, type TableState } from "../../src/plan/changes.ts"
import type { Plan, PlanNode, TableId } from "../../src/plan/Plan.ts"
import { planOf } from "../support/project.ts"

const pipeline = (silver: string, gold: string, bronzeMode = "append") => `
version: 1
pipeline: shop
sources: { orders: { format: csv, path: "data/*.csv" }, prices: { format: csv, path: data/prices.csv } }
bronze:
  orders: { from: orders, mode: ${bronzeMode} }
  prices: { from: prices }
silver:
${silver}
gold:
${gold}
`

const silverDefault = `  orders:
    from: bronze.orders
    mode: append
    transforms: [ { cast: { id: integer } } ]
    expect: [ { not_null: [id] } ]
  prices: { from: bronze.prices }
  latest:
    from: bronze.orders
    mode: merge
    key: [id]
    sequence_by: id
  priced:
    from: bronze.prices
    mode: merge
    key: [id]
    sequence_by: id
  counts:
    from: bronze.orders
    mode: append
    transforms: [ { aggregate: { by: [id], metrics: { n: "count(*)" } } } ]
  queried:
    from: bronze.orders
    mode: merge
    key: [id]
    sequence_by: id
    transforms: [ { sql: "select id, _batch_id from {{ input }}" } ]`

const goldDefault = `  totals:
    from: silver.orders
    transforms: [ { aggregate: { metrics: { n: "count(*)" } } } ]`

const base = planOf(pipeline(silverDefault, goldDefault))

const nodeOf = (plan: Plan, id: string): PlanNode => {
  const node = plan.nodes.get(id as TableId)
  assert.isDefined(node, `no node ${id}`)
  return node!
}

const partsOf = (plan: Plan, id: string) => definitionParts(duckdb, nodeOf(plan, id))
const inputModeOf = (plan: Plan, node: PlanNode) => (node._tag === "Model" && node.input !== undefined ? plan.nodes.get(node.input)?.mode : undefined)

/** The state a successful run of `id` in `plan` would have stored, over `inputs`. */
const stateOf = (plan: Plan, id: string, inputs: Record<string, string>): TableState => ({
  parts: partsOf(plan, id),
  inputs,
  dataVersion: "v1",
  files: {}
})

/** Decides `id` as defined in `now`, against the state stored by a run of `before` over `inputsBefore`. */
const decideFor = (
  id: string,
  options: {
    readonly now?: Plan
    readonly before?: Plan
    readonly inputsBefore?: Record<string, string>
    readonly inputs?: Record<string, string>
    readonly state?: TableState | undefined | "none"
    readonly exists?: boolean
    readonly fullRefresh?: boolean
    readonly parts?: Record<string, string>
  } = {}
): Action => {
  const now = options.now ?? base
  const node = nodeOf(now, id)
  const inputsBefore = options.inputsBefore ?? { "bronze.x": "v1" }
  const input: DecideInput = {
    node,
    parts: options.parts ?? partsOf(now, id),
    inputs: options.inputs ?? inputsBefore,
    state: options.state === "none" ? undefined : (options.state ?? stateOf(options.before ?? now, id, inputsBefore)),
    exists: options.exists ?? true,
    fullRefresh: options.fullRefresh ?? false,
    inputMode: inputModeOf(now, node)
  }
  return decide(input)
}

const shape = (action: Action) => ({ action: actionName(action), reasons: action.reasons })

describe("decide: create", () => {
  it("a table that does not exist is created, whatever the state says", () => {
    assert.deepStrictEqual(shape(decideFor("silver.orders", { exists: false, state: "none" })), { action: "create", reasons: ["new table"] })
    // State left from an earlier warehouse, but the table is gone (dropped by hand): create it again.
    assert.deepStrictEqual(shape(decideFor("silver.orders", { exists: false })), { action: "create", reasons: ["new table"] })
    // Even a full refresh of a missing table is a create.
    assert.deepStrictEqual(shape(decideFor("bronze.orders", { exists: false, fullRefresh: true })), { action: "create", reasons: ["new table"] })
  })

  it("a table that exists without recorded state is created (its content is unknown)", () => {
    assert.deepStrictEqual(shape(decideFor("gold.totals", { state: "none" })), { action: "create", reasons: ["no state recorded"] })
    assert.deepStrictEqual(shape(decideFor("bronze.orders", { state: "none", fullRefresh: true })), { action: "create", reasons: ["no state recorded"] })
  })
})

describe("decide: skip", () => {
  it("skips every kind of table when definition and inputs are the same as the last run", () => {
    const unchanged = { action: "skip", reasons: ["unchanged: same definition and inputs as the last run"] }
    for (const id of base.order) {
      assert.deepStrictEqual(shape(decideFor(id)), unchanged, id)
    }
    // Key order in the stored records does not matter.
    const parts = partsOf(base, "silver.orders")
    const reversed = Object.fromEntries(Object.entries(parts).reverse())
    assert.deepStrictEqual(shape(decideFor("silver.orders", { parts: reversed, inputsBefore: { a: "1", b: "2" }, inputs: { b: "2", a: "1" } })), unchanged)
  })
})

describe("decide: --full-refresh", () => {
  it("rebuilds an existing table with state, even when nothing changed, and says why", () => {
    for (const id of ["bronze.orders", "bronze.prices", "silver.orders", "silver.latest", "gold.totals"]) {
      assert.deepStrictEqual(shape(decideFor(id, { fullRefresh: true })), { action: "rebuild", reasons: ["--full-refresh"] }, id)
    }
    // It wins over a spec change too: one reason, the flag.
    const changed = planOf(pipeline(silverDefault.replace("cast: { id: integer }", "cast: { id: bigint }"), goldDefault))
    assert.deepStrictEqual(shape(decideFor("silver.orders", { now: changed, before: base, fullRefresh: true })), { action: "rebuild", reasons: ["--full-refresh"] })
  })
})

describe("decide: spec changes", () => {
  const variant = (from: string, to: string, where: "silver" | "gold" = "silver") =>
    where === "silver" ? planOf(pipeline(silverDefault.replace(from, to), goldDefault)) : planOf(pipeline(silverDefault, goldDefault.replace(from, to)))

  it("names the part that changed: transforms, expect, mode, input, targets", () => {
    const cases: ReadonlyArray<readonly [string, Plan, string]> = [
      ["silver.orders", variant("cast: { id: integer }", "cast: { id: bigint }"), "spec changed: transforms"],
      ["silver.orders", variant("expect: [ { not_null: [id] } ]", "expect: [ { not_null: [id], on_fail: drop } ]"), "spec changed: expect"],
      ["silver.latest", variant("key: [id]\n    sequence_by: id\n  priced", "key: [id, _batch_id]\n    sequence_by: id\n  priced"), "spec changed: mode"],
      ["silver.prices", variant("prices: { from: bronze.prices }", "prices: { from: bronze.orders }"), "spec changed: input"],
      [
        "gold.totals",
        variant(`metrics: { n: "count(*)" } } } ]`, `metrics: { n: "count(*)" } } } ]\n    targets: [ { parquet: exports/totals/ } ]`, "gold"),
        "spec changed: targets"
      ]
    ]
    for (const [id, now, reason] of cases) {
      assert.deepStrictEqual(shape(decideFor(id, { now, before: base })), { action: "rebuild", reasons: [reason] }, `${id}: ${reason}`)
    }
  })

  it("names several parts at once, sorted, and never lists the compiled SQL among them", () => {
    const now = planOf(
      pipeline(
        silverDefault.replace("cast: { id: integer }", "cast: { id: bigint }").replace("expect: [ { not_null: [id] } ]", "expect: [ { not_null: [id], on_fail: drop } ]"),
        goldDefault
      )
    )
    // Both the transforms and the SQL changed; the reason names what the user changed.
    const before = stateOf(base, "silver.orders", { "bronze.orders": "v1" })
    assert.notStrictEqual(before.parts["sql"], partsOf(now, "silver.orders")["sql"])
    assert.deepStrictEqual(shape(decideFor("silver.orders", { now, before: base })), { action: "rebuild", reasons: ["spec changed: expect, transforms"] })
  })

  it("a change of the compiled SQL alone (a new medallion version) is a rebuild with its own reason", () => {
    const parts = { ...partsOf(base, "silver.orders"), sql: "0123456789abcdef0123456789abcdef" }
    assert.deepStrictEqual(shape(decideFor("silver.orders", { parts })), { action: "rebuild", reasons: ["compiled SQL changed (new medallion version)"] })
    // A part that appears or disappears counts as changed.
    const { targets: _, ...fewer } = partsOf(base, "gold.totals")
    assert.deepStrictEqual(shape(decideFor("gold.totals", { parts: fewer })), { action: "rebuild", reasons: ["spec changed: targets"] })
  })

  it("a spec change wins over new input: a replace table rebuilds with the spec reason only", () => {
    const now = variant("cast: { id: integer }", "cast: { id: bigint }")
    const action = decideFor("silver.orders", { now, before: base, inputsBefore: { "bronze.orders": "v1" }, inputs: { "bronze.orders": "v2" } })
    assert.deepStrictEqual(shape(action), { action: "rebuild", reasons: ["spec changed: transforms"] })
  })

  it("a bronze append whose source changed is incremental: the new spec applies to new files", () => {
    const now = planOf(pipeline(silverDefault, goldDefault).replace(`path: "data/*.csv" }`, `path: "data/*.csv", options: { delimiter: ";" } }`))
    assert.deepStrictEqual(shape(decideFor("bronze.orders", { now, before: base })), {
      action: "incremental",
      reasons: ["spec changed: source (applies to new files; --full-refresh re-ingests all)"]
    })
    // With new files too, both reasons are given.
    assert.deepStrictEqual(shape(decideFor("bronze.orders", { now, before: base, inputsBefore: { "/a.csv": "1" }, inputs: { "/a.csv": "1", "/b.csv": "2" } })), {
      action: "incremental",
      reasons: ["spec changed: source (applies to new files; --full-refresh re-ingests all)", "files changed"]
    })
    // A bronze replace re-reads everything anyway: a rebuild.
    const replaceBefore = planOf(pipeline(silverDefault, goldDefault).replace("path: data/prices.csv }", "path: data/prices.csv, options: { header: true } }"))
    assert.deepStrictEqual(shape(decideFor("bronze.prices", { before: replaceBefore })), { action: "rebuild", reasons: ["spec changed: source"] })
  })

  it("switching a bronze table from replace to append names the mode and is incremental", () => {
    const before = planOf(
      pipeline(
        silverDefault
          .replace(/mode: append/g, "mode: replace")
          .replace(/mode: merge/g, "mode: replace")
          .replace(/key: \[id\]/g, "")
          .replace(/sequence_by: id/g, ""),
        goldDefault,
        "replace"
      )
    )
    assert.strictEqual(nodeOf(before, "bronze.orders").mode, "replace")
    assert.deepStrictEqual(shape(decideFor("bronze.orders", { before })), {
      action: "incremental",
      reasons: ["spec changed: mode (applies to new files; --full-refresh re-ingests all)"]
    })
  })
})

describe("decide: input changes", () => {
  // Data versions are <rebuilt by>/<written by>: an append to bronze.orders keeps the first part.
  const newInput = { inputsBefore: { "bronze.orders": "b0/v1" }, inputs: { "bronze.orders": "b0/v2" } }

  it("bronze: new or changed files make an append incremental and a replace a rebuild", () => {
    const files = { inputsBefore: { "/p/a.csv": "aaa" }, inputs: { "/p/a.csv": "aaa", "/p/b.csv": "bbb" } }
    assert.deepStrictEqual(shape(decideFor("bronze.orders", files)), { action: "incremental", reasons: ["files changed"] })
    assert.deepStrictEqual(shape(decideFor("bronze.prices", files)), { action: "rebuild", reasons: ["files changed"] })
    // A file removed is a change as well.
    assert.deepStrictEqual(shape(decideFor("bronze.prices", { inputsBefore: files.inputs, inputs: files.inputsBefore })), { action: "rebuild", reasons: ["files changed"] })
  })

  it("a replace table over new data rebuilds, naming the inputs that changed", () => {
    assert.deepStrictEqual(shape(decideFor("silver.prices", { inputsBefore: { "bronze.prices": "v1" }, inputs: { "bronze.prices": "v2" } })), {
      action: "rebuild",
      reasons: ["new data in bronze.prices"]
    })
    assert.deepStrictEqual(
      shape(decideFor("gold.totals", { inputsBefore: { "silver.orders": "v1", "silver.prices": "v1" }, inputs: { "silver.orders": "v2", "silver.prices": "v3" } })),
      { action: "rebuild", reasons: ["new data in silver.orders, silver.prices"] }
    )
  })

  it("an append or merge over an append input takes only the new batches", () => {
    assert.deepStrictEqual(shape(decideFor("silver.orders", newInput)), { action: "incremental", reasons: ["new data in bronze.orders"] })
    assert.deepStrictEqual(shape(decideFor("silver.latest", newInput)), { action: "incremental", reasons: ["new data in bronze.orders"] })
  })

  it("an append with an aggregate or sql step rebuilds, and says why; a merge merges (all rows of) the input in", () => {
    assert.deepStrictEqual(shape(decideFor("silver.counts", newInput)), { action: "rebuild", reasons: ["new data in bronze.orders (an aggregate or sql step needs all rows)"] })
    assert.deepStrictEqual(shape(decideFor("silver.queried", newInput)), { action: "incremental", reasons: ["new data in bronze.orders"] })
  })

  it("an append over a rebuilt input rebuilds and says why; a merge over one merges the whole input", () => {
    assert.deepStrictEqual(shape(decideFor("silver.priced", { inputsBefore: { "bronze.prices": "v1" }, inputs: { "bronze.prices": "v2" } })), {
      action: "incremental",
      reasons: ["new data in bronze.prices (merged in whole: the input is rebuilt, not appended)"]
    })
    // The planner refuses an append over a replace input, but decide explains it all the same.
    const node = nodeOf(base, "silver.orders")
    const action = decide({
      node,
      parts: partsOf(base, "silver.orders"),
      inputs: { "bronze.orders": "v2" },
      state: stateOf(base, "silver.orders", { "bronze.orders": "v1" }),
      exists: true,
      fullRefresh: false,
      inputMode: "replace"
    })
    assert.deepStrictEqual(shape(action), { action: "rebuild", reasons: ["bronze.orders was rebuilt, so its batches are new"] })
  })

  it("a merge over sql: (no from) merges its whole result in", () => {
    const plan = planOf(
      pipeline(
        `${silverDefault}
  bysql:
    sql: "select * from {{ bronze.orders }}"
    mode: merge
    key: [id]
    sequence_by: id`,
        goldDefault
      )
    )
    const node = nodeOf(plan, "silver.bysql")
    const action = decide({
      node,
      parts: partsOf(plan, "silver.bysql"),
      inputs: { "bronze.orders": "v2" },
      state: stateOf(plan, "silver.bysql", { "bronze.orders": "v1" }),
      exists: true,
      fullRefresh: false,
      inputMode: inputModeOf(plan, node)
    })
    assert.deepStrictEqual(shape(action), { action: "incremental", reasons: ["new data in bronze.orders (merged in whole: the input is rebuilt, not appended)"] })
  })

  it("an append whose appended input was rebuilt rebuilds, since the batches it consumed are gone", () => {
    assert.deepStrictEqual(shape(decideFor("silver.orders", { inputsBefore: { "bronze.orders": "b1/b2" }, inputs: { "bronze.orders": "b3/b3" } })), {
      action: "rebuild",
      reasons: ["bronze.orders was rebuilt, so its batches are new"]
    })
    assert.deepStrictEqual(shape(decideFor("silver.orders", { inputsBefore: { "bronze.orders": "b1/b2" }, inputs: { "bronze.orders": "b1/b3" } })), {
      action: "incremental",
      reasons: ["new data in bronze.orders"]
    })
  })
})

describe("runsIncrementally", () => {
  it("bronze append, and append/merge over an append input without aggregate or sql steps", () => {
    const cases = Object.fromEntries(
      base.order.map((id) => {
        const node = nodeOf(base, id)
        return [id, runsIncrementally(node, inputModeOf(base, node))]
      })
    )
    assert.deepStrictEqual(cases, {
      "bronze.orders": true,
      "bronze.prices": false,
      "silver.counts": false,
      "silver.latest": true,
      "silver.orders": true,
      "silver.priced": true,
      "silver.prices": false,
      "silver.queried": true,
      "gold.totals": false
    })
  })
})
