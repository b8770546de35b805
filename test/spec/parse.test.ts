/** parsePipeline: a valid file decodes; every mistake is a problem at file:line:col with a reason. */
import { assert, describe, it } from "@effect/vitest"
import { parsePipeline } from "../../src/spec/parse.ts"
import { formatProblem, SpecError } from "../../src/spec/SpecError.ts"
import { assertProblem, locate, onlyProblem, parsed, problemsOf } from "./positions.ts"

const file = "pipelines/shop.yaml"

/** A valid head: every fixture below appends silver/gold tables to it. */
const head = `version: 1
pipeline: shop
sources:
  orders_raw: { format: csv, path: data/orders.csv }
bronze:
  orders: { from: orders_raw }
`

const silverWith = (lines: string) => `${head}silver:
  orders:
    from: bronze.orders
${lines}`

describe("parsePipeline: valid files", () => {
  it("decodes every part of the language as written", () => {
    const text = `version: 1
pipeline: retail_orders
description: Web-shop orders
schedule: { cron: "0 * * * *" }
retry: { attempts: 3, backoff: exponential, initial: 1s, max: 30s }
sources:
  orders_raw:
    format: csv
    path: data/landing/orders/*.csv
    incremental: true
    options: { delimiter: ";", header: true }
bronze:
  orders: { from: orders_raw, mode: append }
silver:
  orders:
    from: bronze.orders
    transforms:
      - dedupe: { keys: [order_id], order_by: _ingested_at desc }
      - cast: { order_id: bigint, amount: "decimal(12,2)" }
      - cast: { columns: { ordered_at: timestamp }, on_error: quarantine }
      - fill_nulls: { currency: USD }
      - mask: { email: hash }
      - derive: { amount_usd: amount * fx_rate }
      - join: { to: silver.customers, on: [customer_id], how: left }
    expect:
      - { name: positive_amount, check: amount >= 0, on_fail: quarantine }
      - { not_null: [order_id, customer_id] }
      - { accepted_values: { column: currency, values: [USD, EUR] }, on_fail: warn }
      - { relationships: { column: customer_id, to: silver.customers, field: id } }
    mode: replace
  customers:
    sql: select 1 as id
gold:
  daily_revenue:
    from: silver.orders
    transforms:
      - window: { column: ordered_at, every: 1 day, as: day }
      - aggregate: { by: [day], metrics: { revenue: sum(amount_usd) } }
    targets:
      - { parquet: exports/daily_revenue/, partition_by: [day] }
`
    const { spec, file: name } = parsed(file, text)
    assert.strictEqual(name, file)
    assert.strictEqual(spec.pipeline, "retail_orders")
    assert.deepStrictEqual(spec.retry, { attempts: 3, backoff: "exponential", initial: "1s", max: "30s" })
    assert.deepStrictEqual(spec.sources?.["orders_raw"]?.options, { delimiter: ";", header: true })
    assert.deepStrictEqual(spec.bronze?.["orders"], { from: "orders_raw", mode: "append" })
    const orders = spec.silver?.["orders"]
    assert.deepStrictEqual(
      orders?.transforms?.map((step) => Object.keys(step)[0]),
      ["dedupe", "cast", "cast", "fill_nulls", "mask", "derive", "join"]
    )
    assert.deepStrictEqual(orders?.transforms?.[1], { cast: { order_id: "bigint", amount: "decimal(12,2)" } })
    assert.deepStrictEqual(orders?.expect?.[0], { name: "positive_amount", check: "amount >= 0", on_fail: "quarantine" })
    assert.strictEqual(spec.silver?.["customers"]?.sql, "select 1 as id")
    assert.deepStrictEqual(spec.gold?.["daily_revenue"]?.targets, [{ parquet: "exports/daily_revenue/", partition_by: ["day"] }])
  })

  it("positions later problems through problemAt, at the key or at the value", () => {
    const text = silverWith("    mode: view\n")
    const { problemAt } = parsed(file, text)
    assertProblem(problemAt(["silver", "orders", "mode"], "m", "key"), { file, at: locate(text, "mode: view"), says: ["m"] })
    assertProblem(problemAt(["silver", "orders", "mode"], "m"), { file, at: locate(text, "view"), says: ["m"] })
    // A path deeper than the document stops at the deepest node that exists.
    assertProblem(problemAt(["silver", "orders", "mode", "nope", 3], "m"), { file, at: locate(text, "view"), says: ["m"] })
  })
})

describe("parsePipeline: unknown keys", () => {
  it("reports a misspelled top-level key with a suggestion", () => {
    const text = `${head}silvr:\n  orders: { from: bronze.orders }\n`
    assertProblem(onlyProblem(parsePipeline(file, text)), {
      file,
      at: locate(text, "silvr"),
      says: ['unknown key "silvr"', "did you mean silver?"]
    })
  })

  it("reports a misspelled table key (mdoe) with a suggestion and the keys a table has", () => {
    const text = silverWith("    mdoe: view\n")
    assertProblem(onlyProblem(parsePipeline(file, text)), {
      file,
      at: locate(text, "mdoe"),
      says: ["silver.orders.mdoe", 'unknown key "mdoe"', "did you mean mode?", "from, sql, transforms, expect, mode"]
    })
  })

  it("reports a misspelled key of a source inside a flow mapping", () => {
    const text = head.replace("path: data/orders.csv", "path: data/orders.csv, incremntal: true")
    assertProblem(onlyProblem(parsePipeline(file, text)), {
      file,
      at: locate(text, "incremntal"),
      says: ["sources.orders_raw.incremntal", "did you mean incremental?"]
    })
  })

  it("does not suggest a name that is not close", () => {
    const text = silverWith("    zzzzzzzz: 1\n")
    const problem = onlyProblem(parsePipeline(file, text))
    assert.include(problem.message, 'unknown key "zzzzzzzz"')
    assert.notInclude(problem.message, "did you mean")
  })
})

describe("parsePipeline: union members are reported by the key the user meant", () => {
  it("names an unknown transform (dedup) and suggests dedupe", () => {
    const text = silverWith("    transforms:\n      - dedup: { keys: [id] }\n")
    assertProblem(onlyProblem(parsePipeline(file, text)), {
      file,
      at: locate(text, "dedup:"),
      says: ["silver.orders.transforms[0].dedup", 'unknown transform "dedup"', "did you mean dedupe?"]
    })
  })

  it("lists the transform kinds when nothing is close", () => {
    const text = silverWith("    transforms:\n      - pivot: { on: x }\n")
    const problem = onlyProblem(parsePipeline(file, text))
    assert.include(problem.message, 'unknown transform "pivot"')
    assert.notInclude(problem.message, "did you mean")
    for (const kind of ["select", "dedupe", "cast", "join", "aggregate", "window", "sql"]) assert.include(problem.message, kind)
  })

  it("reports a mistake inside a known transform, not every other transform", () => {
    const text = silverWith("    transforms:\n      - dedupe: { key: [id] }\n")
    const problems = problemsOf(parsePipeline(file, text))
    assert.strictEqual(problems.length, 2, problems.map(formatProblem).join("\n"))
    assertProblem(problems[0]!, {
      file,
      at: locate(text, "key:"),
      says: ["silver.orders.transforms[0].dedupe.key", "did you mean keys?"]
    })
    assertProblem(problems[1]!, { file, at: locate(text, "dedupe"), says: ['missing required key "keys"'] })
    for (const p of problems) assert.notInclude(p.message, "unknown transform")
  })

  it("names an unknown expectation and suggests the closest kind", () => {
    const text = silverWith("    expect:\n      - { not_nul: [id] }\n")
    assertProblem(onlyProblem(parsePipeline(file, text)), {
      file,
      at: locate(text, "not_nul"),
      says: ["silver.orders.expect[0].not_nul", 'unknown expectation "not_nul"', "did you mean not_null?"]
    })
  })

  it("names an unknown target and suggests the closest kind", () => {
    const text = silverWith("    targets:\n      - { parqet: exports/x/ }\n")
    assertProblem(onlyProblem(parsePipeline(file, text)), {
      file,
      at: locate(text, "parqet"),
      says: ['unknown target "parqet"', "did you mean parquet?"]
    })
  })
})

describe("parsePipeline: wrong values", () => {
  it("reports a bad on_fail value at the value, with the accepted values", () => {
    const text = silverWith("    expect:\n      - { check: amount > 0, on_fail: quarantin }\n")
    assertProblem(onlyProblem(parsePipeline(file, text)), {
      file,
      at: locate(text, "quarantin"),
      says: ["silver.orders.expect[0].on_fail", '"warn"', '"drop"', '"quarantine"', '"fail"']
    })
  })

  it("reports a bad cast on_error and a bad mask at their values", () => {
    const text = silverWith("    transforms:\n      - cast: { columns: { id: int }, on_error: skip }\n      - mask: { email: hsh }\n")
    const problems = problemsOf(parsePipeline(file, text))
    assert.strictEqual(problems.length, 2, problems.map(formatProblem).join("\n"))
    assertProblem(problems[0]!, { file, at: locate(text, "skip"), says: ["transforms[0].cast.on_error", '"quarantine"'] })
    assertProblem(problems[1]!, { file, at: locate(text, "hsh"), says: ["transforms[1].mask.email", '"hash"', '"redact"'] })
  })

  it("reports a bad source format and table mode", () => {
    const text = silverWith("    mode: upsert\n").replace("format: csv", "format: xlsx")
    const problems = problemsOf(parsePipeline(file, text))
    assert.strictEqual(problems.length, 2, problems.map(formatProblem).join("\n"))
    assertProblem(problems[0]!, { file, at: locate(text, "xlsx"), says: ["sources.orders_raw.format", '"csv"', '"parquet"'] })
    assertProblem(problems[1]!, { file, at: locate(text, "upsert"), says: ["silver.orders.mode", '"replace"', '"view"'] })
  })

  it("reports a scalar where a list is expected", () => {
    const text = silverWith("    transforms:\n      - drop: amount\n")
    assertProblem(onlyProblem(parsePipeline(file, text)), {
      file,
      at: locate(text, "amount"),
      says: ["silver.orders.transforms[0].drop", "Expected array"]
    })
  })

  it("reports a string where a number is expected, and a number out of range", () => {
    const many = onlyProblem(parsePipeline(file, `${head}retry: { attempts: many }\n`))
    assertProblem(many, { file, at: { line: 7, column: 20 }, says: ["retry.attempts", "Expected number"] })
    const zero = onlyProblem(parsePipeline(file, `${head}retry: { attempts: 0 }\n`))
    assertProblem(zero, { file, at: { line: 7, column: 20 }, says: ["retry.attempts", "between 1 and 100"] })
  })

  it("reports a table that is not a mapping, and a transform that is a bare word", () => {
    const text = `${head}silver:\n  orders: bronze.orders\n`
    assertProblem(onlyProblem(parsePipeline(file, text)), {
      file,
      at: locate(text, "bronze.orders"),
      says: ["silver.orders", "Expected object"]
    })
    const bare = silverWith("    transforms:\n      - dedupe\n")
    assertProblem(onlyProblem(parsePipeline(file, bare)), {
      file,
      at: locate(bare, "dedupe"),
      says: ["silver.orders.transforms[0]", "Expected object"]
    })
  })

  it("reports a bad version and missing required keys", () => {
    const version = onlyProblem(parsePipeline(file, head.replace("version: 1", "version: 2")))
    assertProblem(version, { file, at: { line: 1, column: 10 }, says: ["version", "Expected 1"] })
    const missing = problemsOf(parsePipeline(file, "description: nothing else\n"))
    assert.deepStrictEqual(missing.map((p) => p.message).toSorted(), ['missing required key "pipeline"', 'missing required key "version"'])
    const bronze = `${head.replace("{ from: orders_raw }", "{ mode: append }")}`
    assertProblem(onlyProblem(parsePipeline(file, bronze)), {
      file,
      at: locate(bronze, "orders: { mode"),
      says: ["bronze.orders", 'missing required key "from"']
    })
  })

  it("reports a file that is not a mapping", () => {
    assertProblem(onlyProblem(parsePipeline(file, "- a\n- b\n")), {
      file,
      at: { line: 1, column: 1 },
      says: ["expected a YAML mapping"]
    })
  })

  it("reports every problem of a file at once, in file order", () => {
    const text = silverWith("    mdoe: view\n    transforms:\n      - dedup: { keys: [id] }\n")
    const problems = problemsOf(parsePipeline(file, text))
    assert.deepStrictEqual(
      problems.map((p) => [p.line, p.column]),
      [
        [locate(text, "mdoe").line, locate(text, "mdoe").column],
        [locate(text, "dedup").line, locate(text, "dedup").column]
      ]
    )
  })
})

describe("parsePipeline: YAML syntax", () => {
  it("reports bad indentation at the misaligned line", () => {
    const text = `version: 1
pipeline: shop
sources:
  orders_raw:
    format: csv
   path: data/orders.csv
`
    const problem = problemsOf(parsePipeline(file, text))[0]!
    const misaligned = locate(text, "path:")
    assert.strictEqual(problem.file, file)
    assert.strictEqual(problem.line, misaligned.line, formatProblem(problem))
    assert.isAtLeast(problem.column, 1)
    assert.isAtMost(problem.column, misaligned.column)
    assert.match(problem.message, /^YAML: /)
    assert.include(problem.message, "indentation")
    assert.notInclude(problem.message, "\n")
  })

  it("reports an unclosed flow sequence and a tab used as indentation", () => {
    const unclosed = problemsOf(parsePipeline(file, "version: 1\npipeline: [shop\n"))[0]!
    assert.match(unclosed.message, /^YAML: .*\]/)
    assert.oneOf(unclosed.line, [2, 3])
    const tab = problemsOf(parsePipeline(file, "version: 1\npipeline: shop\nbronze:\n\torders: { from: x }\n"))[0]!
    assert.strictEqual(tab.line, 4)
    assert.include(tab.message, "Tabs")
  })

  it("reports a duplicate key at its second occurrence", () => {
    const block = `version: 1\npipeline: shop\npipeline: shop2\n`
    assertProblem(onlyProblem(parsePipeline(file, block)), {
      file,
      at: locate(block, "pipeline: shop2"),
      says: ["YAML:", "unique"]
    })
    const flow = `${head}silver:\n  orders: { from: bronze.orders, from: bronze.x }\n`
    assertProblem(onlyProblem(parsePipeline(file, flow)), {
      file,
      at: locate(flow, "from: bronze.x"),
      says: ["YAML:", "unique"]
    })
  })

  it("stops an alias bomb at the first nested alias, and keeps plain aliases", () => {
    // Ten levels of nine aliases each: 9^10 values from a few hundred bytes if expanded.
    const levels = Array.from({ length: 10 }, (_, i) => `  l${i + 1}: &l${i + 1} [${Array(9).fill(`*l${i}`).join(", ")}]`)
    const bomb = `version: 1\npipeline: shop\ndescription: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\nsources:\n${levels.join("\n")}\n`
    assertProblem(onlyProblem(parsePipeline(file, bomb)), {
      file,
      at: locate(bomb, "*l1"),
      says: ["YAML:", "aliases expand too far", "nested aliases"]
    })
    // An anchor used by many tables is not a bomb.
    const tables = Array.from({ length: 300 }, (_, i) => `  t${i}: { from: orders_raw, retry: *retry }`)
    const shared = `version: 1\npipeline: shop\nretry: &retry { attempts: 2 }\nsources:\n  orders_raw: { format: csv, path: data/orders.csv }\nbronze:\n${tables.join("\n")}\n`
    assert.strictEqual(Object.keys(parsed(file, shared).spec.bronze ?? {}).length, 300)
  })

  it("rejects several documents in one file", () => {
    const text = `${head}---\nversion: 1\n`
    assertProblem(problemsOf(parsePipeline(file, text))[0]!, { file, at: locate(text, "---"), says: ["YAML:", "multiple documents"] })
  })
})

describe("SpecError rendering", () => {
  it("renders each problem as file:line:col: message, one per line", () => {
    const text = silverWith("    mdoe: view\n    transforms:\n      - dedup: { keys: [id] }\n")
    const result = parsePipeline(file, text)
    const problems = problemsOf(result)
    const error = new SpecError({ problems })
    const lines = error.message.split("\n")
    assert.strictEqual(lines.length, 2)
    const mdoe = locate(text, "mdoe")
    assert.strictEqual(lines[0], `${file}:${mdoe.line}:${mdoe.column}: ${problems[0]!.message}`)
    assert.strictEqual(formatProblem({ file: "a.yaml", line: 3, column: 7, message: "boom" }), "a.yaml:3:7: boom")
  })
})
