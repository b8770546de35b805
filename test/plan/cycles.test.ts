/** buildPlan: cycles are refused with the whole path, positioned at a reference that closes it. */
import { assert, describe, it } from "@effect/vitest"
import { buildPlan } from "../../src/plan/Plan.ts"
import type { Problem } from "../../src/spec/SpecError.ts"
import { locate, onlyProblem, parsed } from "../spec/positions.ts"

const file = "pipelines/loop.yaml"
const head = `version: 1
pipeline: loop
sources:
  raw: { format: csv, path: data/raw.csv }
bronze:
  raw: { from: raw }
`

/** The path in `cycle: a -> b -> a`. */
const cycleIn = (problem: Problem): ReadonlyArray<string> => {
  const match = /cycle: ((?:[a-z]+\.[A-Za-z0-9_]+)(?: -> [a-z]+\.[A-Za-z0-9_]+)+)/.exec(problem.message)
  assert.isNotNull(match, `no cycle path in: ${problem.message}`)
  return match![1]!.split(" -> ")
}

/**
 * Asserts the reported path is `expected` (each table depends on the next), starting anywhere
 * on the loop, closed, and with every table once.
 */
const assertCycle = (problem: Problem, expected: ReadonlyArray<string>) => {
  const path = cycleIn(problem)
  assert.strictEqual(path[0], path[path.length - 1], `the path is not closed: ${path.join(" -> ")}`)
  const loop = path.slice(0, -1)
  const start = expected.indexOf(loop[0]!)
  assert.isAtLeast(start, 0, `${loop[0]} is not on the cycle`)
  assert.deepStrictEqual(loop, [...expected.slice(start), ...expected.slice(0, start)])
}

describe("buildPlan: cycles", () => {
  it("reports a cycle of two tables with the whole path, at the reference of its first table", () => {
    const text = `${head}silver:
  a: { from: silver.b }
  b: { from: silver.a }
`
    const problem = onlyProblem(buildPlan([parsed(file, text)]))
    assertCycle(problem, ["silver.a", "silver.b"])
    const [first, second] = cycleIn(problem)
    const line = locate(text, `  ${first!.split(".")[1]}: { from: ${second}`)
    assert.strictEqual(problem.file, file)
    assert.deepStrictEqual([problem.line, problem.column], [line.line, locate(text, `from: ${second}`).column + "from: ".length])
  })

  it("reports a cycle of three tables with the whole path", () => {
    const text = `${head}silver:
  a: { from: silver.c }
  b: { from: silver.a }
  c: { from: silver.b }
`
    const problem = onlyProblem(buildPlan([parsed(file, text)]))
    assertCycle(problem, ["silver.a", "silver.c", "silver.b"])
    assert.include(problem.message, "cycle: ")
    const [first, second] = cycleIn(problem)
    assert.strictEqual(problem.line, locate(text, `  ${first!.split(".")[1]}: { from: ${second}`).line)
  })

  it("follows join, sql and from edges across layers and files", () => {
    const silver = `${head}silver:
  a:
    from: bronze.raw
    transforms:
      - join: { to: gold.c, on: [id] }
`
    const gold = `version: 1
pipeline: reports
gold:
  b: { from: silver.a }
  c:
    sql: select * from {{ gold.b }}
`
    const problem = onlyProblem(buildPlan([parsed(file, silver), parsed("pipelines/reports.yaml", gold)]))
    assertCycle(problem, ["silver.a", "gold.c", "gold.b"])
    assert.include(["pipelines/reports.yaml", file], problem.file)
  })

  it("reports a table that refers to itself", () => {
    const text = `${head}silver:
  a:
    sql: select * from {{ silver.a }}
`
    const problem = onlyProblem(buildPlan([parsed(file, text)]))
    assert.strictEqual(problem.line, locate(text, "select").line)
    assert.include(problem.message, "silver.a")
    assert.include(problem.message, "itself")
  })

  it("accepts a diamond, which is not a cycle", () => {
    const text = `${head}silver:
  a: { from: bronze.raw }
  b: { from: silver.a }
  c: { from: silver.a }
gold:
  d:
    sql: select * from {{ silver.b }} union all select * from {{ silver.c }}
`
    const result = buildPlan([parsed(file, text)])
    assert.isTrue(result._tag === "Success", result._tag === "Failure" ? result.failure.message : "")
  })
})
