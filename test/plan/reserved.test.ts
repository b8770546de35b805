/** buildPlan: the names medallion makes for itself cannot be declared, and are refused where they are written. */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { duckdb } from "../../src/compile/duckdb.ts"
import { compileIngest } from "../../src/compile/ingest.ts"
import { compileModel } from "../../src/compile/model.ts"
import { nextName } from "../../src/compile/publish.ts"
import { buildPlan, type IngestNode, type ModelNode, type TableId } from "../../src/plan/Plan.ts"
import { reservedName } from "../../src/plan/reserved.ts"
import { layers } from "../../src/spec/Pipeline.ts"
import { planOf } from "../support/project.ts"
import { assertProblem, locate, onlyProblem, parsed, problemsOf } from "../spec/positions.ts"

const file = "pipelines/names.yaml"
const head = `version: 1
pipeline: names
sources:
  raw: { format: csv, path: data/raw.csv }
bronze:
  raw: { from: raw }
silver:
  c:
    from: bronze.raw
    expect:
      - { not_null: [id], on_fail: quarantine }
`

const planText = (text: string) => buildPlan([parsed(file, text)])

describe("buildPlan: reserved table names", () => {
  const cases = [
    {
      name: "gold g__next",
      text: `${head}gold:\n  g__next: { from: silver.c }\n`,
      key: "g__next:",
      says: ["gold.g__next:", "the suffix __next is reserved", "gold.g__next, then swapped in", "rename the table"]
    },
    {
      name: "silver c__quarantine",
      text: `${head}  c__quarantine: { from: bronze.raw }\n`,
      key: "c__quarantine:",
      says: ["silver.c__quarantine: the suffix __quarantine is reserved for medallion's own tables (c's quarantine rows go to silver.c__quarantine); rename the table"]
    },
    {
      name: "bronze raw__rejects",
      text: head.replace("  raw: { from: raw }\n", "  raw: { from: raw }\n  raw__rejects: { from: raw }\n"),
      key: "raw__rejects:",
      says: ["bronze.raw__rejects: the suffix __rejects is reserved", "raw's malformed lines go to bronze.raw__rejects"]
    },
    {
      name: "silver __hidden",
      text: `${head}  __hidden: { from: bronze.raw }\n`,
      key: "__hidden:",
      says: ["silver.__hidden: names starting with __ are reserved", "rename the table"]
    },
    { name: "a suffix in another case", text: `${head}  C__Quarantine: { from: bronze.raw }\n`, key: "C__Quarantine:", says: ["the suffix __quarantine is reserved"] }
  ]
  for (const c of cases) {
    it(`refuses ${c.name} at its key`, () => {
      assertProblem(onlyProblem(planText(c.text)), { file, at: locate(c.text, c.key), says: c.says })
    })
  }

  it("refuses every name the compiler makes beside a table", () => {
    const plan = planOf(`${head}gold:\n  g: { from: silver.c }\n`)
    const ingest = compileIngest(duckdb, plan.nodes.get("bronze.raw" as TableId) as IngestNode, {
      batchId: "B",
      startedAt: "2024-05-01T00:00:00.000Z",
      files: [{ path: "data/raw.csv", name: "data/raw.csv", batchId: "B", ingestedAt: "2024-05-01T00:00:00.000Z" }]
    })
    const model = compileModel(duckdb, plan.nodes.get("silver.c" as TableId) as ModelNode, { batchId: "B", startedAt: "2024-05-01T00:00:00.000Z" })
    const made = new Set([...JSON.stringify([ingest, model]).matchAll(/\w*__\w+/g)].map((m) => m[0]))
    for (const name of ["raw", "c", "g", "c__quarantine", "raw__rejects"]) made.add(nextName(name))
    made.add("c__quarantine").add("raw__rejects")
    assert.isAbove(made.size, 5)
    for (const name of made) {
      for (const layer of layers) assert.isDefined(reservedName(layer, name), `${layer}.${name} is not reserved`)
    }
  })

  it("a quarantine table is an input like any other: read after its owner, and changed with it", () => {
    const result = planText(
      `${head}gold:\n  bad_rows: { from: silver.c__quarantine }\n  joined: { from: bronze.raw, transforms: [ { join: { to: silver.c__quarantine, on: [id], columns: [_reason] } } ] }\n`
    )
    assert.isTrue(Result.isSuccess(result), Result.isFailure(result) ? result.failure.message : "")
    const plan = Result.getOrThrow(result)
    const bad = plan.nodes.get("gold.bad_rows" as TableId) as ModelNode
    assert.strictEqual(bad.input, "silver.c__quarantine")
    assert.deepStrictEqual(bad.dependsOn, ["silver.c"])
    assert.deepStrictEqual(plan.nodes.get("gold.joined" as TableId)!.dependsOn, ["bronze.raw", "silver.c"])
    assert.isBelow(plan.order.indexOf("silver.c" as TableId), plan.order.indexOf("gold.bad_rows" as TableId))
  })

  it("refuses a quarantine that is never written, a table's own, and the rejects", () => {
    const never = `${head}  d: { from: bronze.raw }\ngold:\n  bad_rows: { from: silver.d__quarantine }\n`
    assertProblem(onlyProblem(planText(never)), {
      file,
      at: locate(never, "silver.d__quarantine"),
      says: ["gold.bad_rows: silver.d__quarantine is never written: no cast, join or expectation of silver.d quarantines rows"]
    })
    const own = head.replace("    from: bronze.raw\n", "    from: bronze.raw\n    transforms: [ { join: { to: silver.c__quarantine, on: [id] } } ]\n")
    assertProblem(onlyProblem(planText(own)), { file, at: locate(own, "{ to: silver.c__quarantine"), says: ["silver.c cannot read its own quarantine"] })
    const rejects = `${head}gold:\n  bad_lines: { from: bronze.raw__rejects }\n`
    assertProblem(onlyProblem(planText(rejects)), {
      file,
      at: locate(rejects, "bronze.raw__rejects"),
      says: ["gold.bad_lines: bronze.raw__rejects is bronze.raw's rejects table", "pipelines cannot read it", "medallion show bronze.raw__rejects"]
    })
  })

  it("refuses two tables the engine cannot tell apart", () => {
    const text = `${head}  C: { from: bronze.raw }\n`
    const problems = problemsOf(planText(text))
    assert.strictEqual(problems.length, 1, problems.map((p) => p.message).join("\n"))
    assert.oneOf(problems[0]!.line, [locate(text, "  c:").line, locate(text, "  C:").line])
    assert.match(problems[0]!.message, /silver\.(c|C): the engine does not tell it from silver\.(C|c)/)
  })

  it("accepts __ inside a name and suffixes that only look alike", () => {
    const text = `${head}  c__next_day: { from: bronze.raw }\n  quarantine: { from: bronze.raw }\n  c_rejects: { from: bronze.raw }\n`
    assert.isTrue(Result.isSuccess(planText(text)))
  })
})
