/** Messages for mistakes that are easy to make and were once reported confusingly. */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { buildPlan } from "../../src/plan/Plan.ts"
import { parsePipeline } from "../../src/spec/parse.ts"
import { envOverrides } from "../../src/settings/Settings.ts"
import type { SpecError } from "../../src/spec/SpecError.ts"
import { onlyProblem } from "./positions.ts"

const plan = (text: string): Result.Result<unknown, SpecError> => {
  const parsed = parsePipeline("p.yaml", text)
  return Result.isFailure(parsed) ? parsed : buildPlan([parsed.success])
}

describe("messages", () => {
  it("asks for one transform per list item", () => {
    const problem = onlyProblem(parsePipeline("p.yaml", "version: 1\npipeline: p\nsilver:\n  a:\n    from: silver.b\n    transforms:\n      - { trim: [a], lowercase: [b] }\n"))
    assert.include(problem.message, "one transform per list item: found trim and lowercase")
  })

  it("says an expectation without a rule misses the rule, not that its name is unknown", () => {
    const problem = onlyProblem(parsePipeline("p.yaml", "version: 1\npipeline: p\nsilver:\n  a:\n    from: silver.b\n    expect:\n      - { name: x, on_fail: drop }\n"))
    assert.include(problem.message, "missing the expectation itself: one of check, not_null, unique, accepted_values, relationships")
  })

  it("hints at quoting when a flow mapping splits a value at its comma", () => {
    const problem = onlyProblem(parsePipeline("p.yaml", "version: 1\npipeline: p\nsilver:\n  a:\n    from: silver.b\n    transforms:\n      - cast: { amount: decimal(12,2) }\n"))
    assert.include(problem.message, `quote values that contain commas inside { }, e.g. "decimal(12,2)"`)
  })

  it('says that an unquoted null is YAML\'s null when the word "null" was expected', () => {
    const text = "version: 1\npipeline: p\nsilver:\n  a:\n    from: silver.b\n    transforms:\n      - cast: { columns: { n: integer }, on_error: null }\n"
    const problem = onlyProblem(parsePipeline("p.yaml", text))
    assert.include(problem.message, `Expected "null" | "quarantine" | "fail"; YAML reads an unquoted null as no value: write "null" in quotes`)
    const quoted = parsePipeline("p.yaml", text.replace("on_error: null", `on_error: "null"`))
    assert.isTrue(Result.isSuccess(quoted))
  })

  it("does not find sources through the object prototype", () => {
    const problem = onlyProblem(plan("version: 1\npipeline: p\nbronze:\n  orders: { from: constructor }\n"))
    assert.include(problem.message, `unknown source "constructor"`)
  })

  it("explains {{ input }} in a table-level sql and suggests layer.table for a bare name", () => {
    const text = "version: 1\npipeline: p\nsilver:\n  orders: { sql: select 1 as x }\n  a: { sql: 'select * from {{ input }}' }\n  b: { sql: 'select * from {{ orders }}' }\n"
    const result = plan(text)
    assert.isTrue(Result.isFailure(result))
    const messages = Result.isFailure(result) ? result.failure.problems.map((p) => p.message) : []
    assert.isTrue(
      messages.some((m) => m.includes("{{ input }} is the previous step inside a sql transform")),
      messages.join("\n")
    )
    assert.isTrue(
      messages.some((m) => m.includes(`unknown table "orders"; did you mean silver.orders?`)),
      messages.join("\n")
    )
  })

  it("ignores MEDALLION_ variables that name no setting, and reads override values as YAML", () => {
    assert.deepStrictEqual(envOverrides({ MEDALLION_HOME: "/x", MEDALLION_ENV: "prod", MEDALLION_DUCKDB__THREADS: "4", MEDALLION_ENGINE: "duckdb" }), {
      duckdb: { threads: 4 },
      engine: "duckdb"
    })
  })
})
