/** buildPlan: rules about one table that the schema alone cannot express. */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { buildPlan } from "../../src/plan/Plan.ts"
import { parsePipeline } from "../../src/spec/parse.ts"
import { assertProblem, locate, onlyProblem, parsed } from "../spec/positions.ts"

const file = "pipelines/rules.yaml"
const head = `version: 1
pipeline: rules
sources:
  raw: { format: csv, path: data/raw.csv }
bronze:
  raw: { from: raw }
silver:
`

const planOf = (text: string) => buildPlan([parsed(file, text)])

const assertValid = (text: string) => {
  const result = planOf(text)
  assert.isTrue(Result.isSuccess(result), Result.isFailure(result) ? result.failure.message : "")
}

describe("buildPlan: from and sql", () => {
  it("refuses a table with both from: and sql:, at the table's key", () => {
    const text = `${head}  both:\n    from: bronze.raw\n    sql: select * from {{ bronze.raw }}\n`
    assertProblem(onlyProblem(planOf(text)), {
      file,
      at: locate(text, "both:"),
      says: ["silver.both", "exactly one of", "from:", "sql:"]
    })
  })

  it("refuses a table with neither from: nor sql:", () => {
    const text = `${head}  neither:\n    transforms:\n      - drop: [x]\n`
    assertProblem(onlyProblem(planOf(text)), { file, at: locate(text, "neither:"), says: ["silver.neither", "exactly one of"] })
  })
})

describe("buildPlan: views", () => {
  it("refuses an expectation that quarantines rows in a view", () => {
    const text = `${head}  v:
    from: bronze.raw
    mode: view
    expect:
      - { check: amount > 0, on_fail: quarantine }
`
    assertProblem(onlyProblem(planOf(text)), {
      file,
      at: locate(text, "{ check"),
      says: ["silver.v", "view cannot quarantine"]
    })
  })

  it("refuses an expectation that drops rows in a view", () => {
    const text = `${head}  v:
    from: bronze.raw
    mode: view
    expect:
      - { not_null: [id], on_fail: drop }
`
    assertProblem(onlyProblem(planOf(text)), { file, at: locate(text, "{ not_null"), says: ["silver.v", "view cannot drop"] })
  })

  it("refuses a quarantining cast and export targets in a view", () => {
    const text = `${head}  v:
    from: bronze.raw
    mode: view
    transforms:
      - cast: { columns: { id: int }, on_error: quarantine }
    targets:
      - { parquet: exports/v/ }
`
    const result = planOf(text)
    assert.isTrue(Result.isFailure(result))
    const problems = Result.isFailure(result) ? result.failure.problems : []
    assert.strictEqual(problems.length, 2, problems.map((p) => p.message).join("\n"))
    assert.strictEqual(problems[0]!.line, locate(text, "cast:").line)
    assert.include(problems[0]!.message, "view cannot quarantine")
    assertProblem(problems[1]!, { file, at: locate(text, "targets:"), says: ["silver.v", "targets"] })
  })

  it("accepts a view whose expectations warn or fail", () => {
    assertValid(`${head}  v:
    from: bronze.raw
    mode: view
    transforms:
      - cast: { columns: { id: int }, on_error: "null" }
    expect:
      - { check: amount > 0 }
      - { not_null: [id], on_fail: warn }
      - { unique: [id], on_fail: fail }
`)
  })
})

describe("buildPlan: sql steps and quarantining casts", () => {
  it("requires a sql step to read {{ input }}", () => {
    const text = `${head}  s:
    from: bronze.raw
    transforms:
      - sql: select * from {{ bronze.raw }}
`
    const problem = onlyProblem(planOf(text))
    assert.strictEqual(problem.line, locate(text, "- sql").line)
    assert.include(problem.message, "silver.s")
    assert.include(problem.message, "{{ input }}")
    assertValid(text.replace("{{ bronze.raw }}", "{{ input }}"))
  })

  it("refuses a quarantining cast before an aggregate or sql step, and accepts it after", () => {
    const before = `${head}  agg:
    from: bronze.raw
    transforms:
      - cast: { columns: { amount: double }, on_error: quarantine }
      - aggregate: { by: [country], metrics: { total: sum(amount) } }
`
    const problem = onlyProblem(planOf(before))
    assert.strictEqual(problem.line, locate(before, "- cast").line)
    assert.include(problem.message, "silver.agg")
    assert.include(problem.message, "on_error: quarantine")
    assert.include(problem.message, "aggregate")

    const beforeSql = before.replace("- aggregate: { by: [country], metrics: { total: sum(amount) } }", "- sql: select * from {{ input }}")
    assert.strictEqual(onlyProblem(planOf(beforeSql)).line, locate(beforeSql, "- cast").line)

    assertValid(`${head}  agg:
    from: bronze.raw
    transforms:
      - aggregate: { by: [country], metrics: { total: sum(amount) } }
      - cast: { columns: { total: double }, on_error: quarantine }
`)
    assertValid(before.replace("on_error: quarantine", 'on_error: "null"'))
  })
})

describe("table names", () => {
  it("refuses a table name that is not a plain identifier, at its key", () => {
    const text = `${head}  bad-name: { from: bronze.raw }\n`
    const parsedResult = parsePipeline(file, text)
    const result = Result.isFailure(parsedResult) ? parsedResult : buildPlan([parsedResult.success])
    const problem = onlyProblem(result)
    assert.deepStrictEqual([problem.line, problem.column], [locate(text, "bad-name").line, locate(text, "bad-name").column])
    assert.include(problem.message, "bad-name")
  })
})

describe("buildPlan: schedule", () => {
  const scheduled = (schedule: string) => `version: 1\npipeline: rules\nschedule: ${schedule}\ngold:\n  one:\n    sql: select 1 as n\n`

  it("accepts a cron with a time zone, and one with seconds", () => {
    assertValid(scheduled(`{ cron: "0 3 * * *", timezone: Europe/Berlin, catch_up: true }`))
    assertValid(scheduled(`{ cron: "*/30 * * * * *" }`))
  })

  it("refuses an invalid cron at the cron, and an unknown time zone at the timezone", () => {
    const bad = scheduled(`{ cron: "61 * * * *" }`)
    assertProblem(onlyProblem(planOf(bad)), { file, at: locate(bad, '"61'), says: ["schedule.cron", "61 * * * *", "five fields"] })
    const zone = scheduled(`{ cron: "0 * * * *", timezone: Mars/Olympus }`)
    assertProblem(onlyProblem(planOf(zone)), { file, at: locate(zone, "Mars/"), says: ["schedule.timezone", "Mars/Olympus", "IANA"] })
  })
})
