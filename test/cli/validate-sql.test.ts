/**
 * `medallion validate` checks every table's SQL against the columns its inputs will have, before
 * any data is read: each mistake below (one per pipeline file, validated on its own through the
 * CLI as a child process) exits 2 with one `file:line:col: layer.table.part: reason` line at the
 * word that holds it, and no stack trace. A valid project still exits 0, `--no-sql-check` and a
 * Databricks project skip the check, and the warehouse is never created, opened or locked.
 */
import type { ChildProcess } from "node:child_process"
import { existsSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { endlessPipeline, startCli, until } from "../support/processes.ts"
import { cli, makeProject } from "../support/project.ts"
import type { Position } from "../spec/positions.ts"

const sources = `version: 1
pipeline: shop
sources:
  events: { format: csv, path: data/events/*.csv }
  customers: { format: csv, path: data/customers.csv }
bronze:
  events: { from: events }
  customers: { from: customers }
`

/** The position of `word` inside the first occurrence of `context` in `text` (which may span lines). */
const within = (text: string, context: string, word: string): Position => {
  const start = text.indexOf(context)
  if (start < 0 || !context.includes(word)) throw new Error(`fixture has no ${JSON.stringify(context)} holding ${JSON.stringify(word)}`)
  const offset = start + context.indexOf(word)
  const before = text.slice(0, offset)
  return { line: before.split("\n").length, column: offset - (before.lastIndexOf("\n") + 1) + 1 }
}

interface Mistake {
  readonly name: string
  readonly text: string
  /** Where the problem must point: the word inside its context. */
  readonly at: readonly [context: string, word: string]
  /** The whole reason, from the table's name on. */
  readonly says: string
}

const mistake = (name: string, body: string, at: readonly [string, string], says: string): Mistake => ({ name, text: sources + body, at, says })

const mistakes: ReadonlyArray<Mistake> = [
  mistake(
    "a misspelled column in a filter",
    `silver:
  events:
    from: bronze.events
    transforms:
      - cast: { event_ts: timestamp }
      - filter: event_tss > '2024-01-01'
`,
    ["filter: event_tss", "event_tss"],
    `silver.events.transforms[1].filter: column "event_tss" does not exist; did you mean event_ts?`
  ),

  mistake(
    "a type that does not exist in a cast",
    `silver:
  events:
    from: bronze.events
    transforms:
      - cast: { id: bigint, amount: "decmal(10,2)" }
`,
    [`"decmal(10,2)"`, "decmal"],
    `silver.events.transforms[0].cast.amount: type "decmal" does not exist; did you mean decimal?`
  ),

  mistake(
    "broken SQL in a check",
    `silver:
  events:
    from: bronze.events
    expect:
      - { name: has_id, check: id IS NOT NUL, on_fail: drop }
`,
    ["IS NOT NUL", "NUL"],
    `silver.events.expect[0].check: syntax error at or near "NUL"`
  ),

  mistake(
    "a misspelled column in an aggregate's metric, in gold",
    `silver:
  events:
    from: bronze.events
    transforms:
      - cast: { amount: "decimal(10,2)" }
gold:
  revenue:
    from: silver.events
    transforms:
      - aggregate:
          by: [country]
          metrics:
            total: sum(amout)
`,
    ["sum(amout)", "amout"],
    `gold.revenue.transforms[0].aggregate.metrics.total: column "amout" does not exist; did you mean amount?`
  ),

  mistake(
    "a function that does not exist in a derive",
    `silver:
  events:
    from: bronze.events
    transforms:
      - derive: { country_code: uper(country) }
`,
    ["uper(country)", "uper"],
    `silver.events.transforms[0].derive.country_code: function "uper" does not exist; did you mean upper?`
  ),

  mistake(
    "a misspelled column in not_null",
    `silver:
  events:
    from: bronze.events
    expect:
      - { not_null: [id, evnt_ts], on_fail: quarantine }
`,
    ["evnt_ts", "evnt_ts"],
    `silver.events.expect[0].not_null[1]: column "evnt_ts" does not exist; did you mean event_ts?`
  ),

  mistake(
    "a misspelled column in unique",
    `silver:
  events:
    from: bronze.events
    expect:
      - { unique: [idd], on_fail: fail }
`,
    ["[idd]", "idd"],
    `silver.events.expect[0].unique[0]: column "idd" does not exist; did you mean id?`
  ),

  mistake(
    "a misspelled column on the third line of a table's sql",
    `gold:
  by_country:
    sql: |
      SELECT country,
             count(*) AS n,
             max(amont) AS biggest
      FROM {{ bronze.events }}
      GROUP BY country
`,
    ["max(amont)", "amont"],
    `gold.by_country.sql: column "amont" does not exist; did you mean amount?`
  ),

  mistake(
    "a misspelled column in a sql step",
    `silver:
  events:
    from: bronze.events
    transforms:
      - sql: select * from {{ input }} where amout > '1'
`,
    ["where amout", "amout"],
    `silver.events.transforms[0].sql: column "amout" does not exist; did you mean amount?`
  ),

  mistake(
    "a join on a key the table does not have",
    `silver:
  customers: { from: bronze.customers }
  events:
    from: bronze.events
    transforms:
      - join: { to: silver.customers, on: [custmer_id], columns: [name] }
`,
    ["[custmer_id]", "custmer_id"],
    `silver.events.transforms[0].join.on[0]: column "custmer_id" does not exist; did you mean customer_id?`
  ),

  mistake(
    "a misspelled column in a dedupe's order",
    `silver:
  events:
    from: bronze.events
    transforms:
      - dedupe: { keys: [id], order_by: evnt_ts desc }
`,
    ["order_by: evnt_ts", "evnt_ts"],
    `silver.events.transforms[0].dedupe.order_by: column "evnt_ts" does not exist; did you mean event_ts?`
  ),

  mistake(
    "dropping a column that is not there",
    `silver:
  events:
    from: bronze.events
    transforms:
      - drop: [email, amout]
`,
    ["amout]", "amout"],
    `silver.events.transforms[0].drop[1]: column "amout" does not exist; did you mean amount?`
  ),

  mistake(
    "renaming a column that is not there",
    `silver:
  events:
    from: bronze.events
    transforms:
      - rename: { amout: amount_usd }
`,
    ["amout:", "amout"],
    `silver.events.transforms[0].rename.amout: column "amout" does not exist; did you mean amount?`
  ),

  mistake(
    "masking a column that is not there",
    `silver:
  events:
    from: bronze.events
    transforms:
      - mask: { emial: hash }
`,
    ["emial", "emial"],
    `silver.events.transforms[0].mask.emial: column "emial" does not exist; did you mean email?`
  ),

  mistake(
    "a function given a column of another type",
    `silver:
  events:
    from: bronze.events
    transforms:
      - cast: { id: bigint }
      - derive: { label: upper(id) }
`,
    ["upper(id)", "upper"],
    `silver.events.transforms[1].derive.label: upper() takes other types than upper(BIGINT) (it takes upper(VARCHAR)); cast the argument`
  ),

  mistake(
    "a metric that is neither grouped nor aggregated",
    `gold:
  by_country:
    from: bronze.events
    transforms:
      - aggregate: { by: [country], metrics: { n: count(*), biggest: amount } }
`,
    ["biggest: amount", "amount"],
    `gold.by_country.transforms[0].aggregate.metrics.biggest: column "amount" is neither grouped by nor inside an aggregate function (such as sum, count or any_value)`
  ),

  mistake(
    "a window over a text column",
    `silver:
  events:
    from: bronze.events
    transforms:
      - window: { column: event_ts, every: 1 day, as: day }
`,
    ["column: event_ts", "event_ts"],
    `silver.events.transforms[0].window.column: column "event_ts" is VARCHAR; a window needs a DATE or TIMESTAMP column (cast it in an earlier step)`
  ),

  mistake(
    "a merge key that is not a column",
    `silver:
  events:
    from: bronze.events
    mode: merge
    key: [idd]
    sequence_by: event_ts
`,
    ["[idd]", "idd"],
    `silver.events.key[0]: column "idd" does not exist; did you mean id?`
  ),

  mistake(
    "a sequence_by that is not a column",
    `silver:
  events:
    from: bronze.events
    mode: merge
    key: [id]
    sequence_by: event_tz
`,
    ["event_tz", "event_tz"],
    `silver.events.sequence_by: column "event_tz" does not exist; did you mean event_ts?`
  ),

  mistake(
    "a relationship's field that the other table does not have",
    `silver:
  customers: { from: bronze.customers }
  events:
    from: bronze.events
    expect:
      - { relationships: { column: customer_id, to: silver.customers, field: custmer_id } }
`,
    ["field: custmer_id", "custmer_id"],
    `silver.events.expect[0].relationships.field: column "custmer_id" does not exist in silver.customers; did you mean customer_id?`
  ),

  mistake(
    "an accepted value of another type than its column",
    `silver:
  events:
    from: bronze.events
    transforms:
      - cast: { id: bigint }
    expect:
      - { accepted_values: { column: id, values: [1, 2, three] } }
`,
    ["three", "three"],
    `silver.events.expect[0].accepted_values.values[2]: "three" is not a BIGINT (the type of column id), so apply would fail comparing them`
  ),

  mistake(
    "partitioning an export by a column the table does not have",
    `silver:
  events:
    from: bronze.events
    targets:
      - { parquet: exports/events/, partition_by: [contry] }
`,
    ["[contry]", "contry"],
    `silver.events.targets[0].partition_by[0]: column "contry" is not a column of silver.events; did you mean country?`
  ),

  mistake(
    "an expression cut short, among several",
    `silver:
  events:
    from: bronze.events
    transforms:
      - derive: { doubled: "amount || amount", cut: "amount ||" }
`,
    [`cut: "amount ||"`, `"amount ||"`],
    `silver.events.transforms[0].derive.cut: syntax error: nothing after || (the expression ends too early)`
  ),

  mistake(
    "a column that an upstream table no longer has",
    `silver:
  events:
    from: bronze.events
    transforms:
      - select: [id, amount]
gold:
  by_country:
    from: silver.events
    transforms:
      - aggregate: { by: [country], metrics: { n: count(*) } }
`,
    ["by: [country]", "country"],
    `gold.by_country.transforms[0].aggregate.by[0]: column "country" does not exist (its columns: id, amount)`
  ),

  mistake(
    "a misspelled column of a quarantine another table reads",
    `silver:
  events:
    from: bronze.events
    transforms:
      - cast: { columns: { amount: "decimal(10,2)" }, on_error: quarantine }
gold:
  bad_amounts:
    from: silver.events__quarantine
    transforms:
      - select: [id, _raw_amont]
`,
    ["select: [id, _raw_amont]", "_raw_amont"],
    `gold.bad_amounts.transforms[0].select[1]: column "_raw_amont" does not exist; did you mean _raw_amount?`
  ),

  mistake(
    "a table read without {{ }}",
    `gold:
  raw:
    sql: select * from bronze.evnts
`,
    ["bronze.evnts", "evnts"],
    `gold.raw.sql: table "evnts" does not exist; did you mean {{ bronze.events }}? (a pipeline's tables are read as {{ layer.table }})`
  ),

  {
    name: "an append whose input lost its _batch_id",
    text:
      sources.replace("events: { from: events }", "events: { from: events, mode: append }") +
      `silver:
  ids:
    from: bronze.events
    mode: append
    transforms:
      - select: [id]
  more_ids:
    from: silver.ids
    mode: append
`,
    at: ["more_ids:\n    from: silver.ids\n    mode: append", "append"],
    says: `silver.more_ids.mode: mode: append reads the new batches of silver.ids by their _batch_id, but silver.ids has no _batch_id column`
  }
]

const data = {
  "data/events/2024-01.csv": "id,customer_id,amount,event_ts,country,email,status\n1,7,5.50,2024-01-01 10:00:00,US,a@example.com,placed\n",
  // A later file adds a column: the tables reading it see it too.
  "data/events/2024-02.csv": "id,customer_id,amount,event_ts,country,email,status,coupon\n2,7,3.00,2024-02-01 09:00:00,DE,b@example.com,shipped,WINTER\n",
  "data/customers.csv": "customer_id,name,segment\n7,Ada,consumer\n"
}

const valid = `${sources}silver:
  customers:
    from: bronze.customers
    transforms:
      - cast: { customer_id: bigint }
  events:
    from: bronze.events
    mode: merge
    key: [id]
    sequence_by: event_ts
    transforms:
      - cast: { columns: { id: bigint, customer_id: bigint, amount: "decimal(10,2)", event_ts: timestamp }, on_error: quarantine }
      - fill_nulls: { coupon: none }
      - join: { to: silver.customers, on: [customer_id], columns: [segment] }
    expect:
      - { not_null: [id], on_fail: quarantine }
      - { accepted_values: { column: status, values: [placed, shipped] } }
      - { relationships: { column: customer_id, to: silver.customers, field: customer_id }, on_fail: drop }
gold:
  daily:
    from: silver.events
    transforms:
      - window: { column: event_ts, every: 1 day, as: day }
      - aggregate: { by: [day, coupon], metrics: { revenue: sum(amount), orders: count(*) } }
    targets:
      - { parquet: exports/daily/, partition_by: [day] }
  top:
    mode: view
    sql: |
      SELECT segment, sum(amount) AS spent
      FROM {{ silver.events }}
      GROUP BY segment
`

/** The one line of stderr, split into its place and its reason. */
const oneProblem = (stderr: string) => {
  const lines = stderr.trim().split("\n")
  assert.strictEqual(lines.length, 1, `expected one line on stderr, got:\n${stderr}`)
  const match = /^(.+?):(\d+):(\d+): (.+)$/.exec(lines[0]!)
  assert.isNotNull(match, `not file:line:col: reason: ${lines[0]}`)
  return { file: match![1]!, line: Number(match![2]), column: Number(match![3]), reason: match![4]! }
}

const assertNoStackTrace = (output: string) => {
  assert.notMatch(output, /^\s+at /m, `stack trace in:\n${output}`)
  assert.notInclude(output, "node:internal")
  assert.notMatch(output, /__medallion|__stage|step_\d|LINE \d+:/, `generated SQL in:\n${output}`)
}

const started: Array<ChildProcess> = []
afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
})

describe("medallion validate: the SQL of every table", () => {
  const project = makeProject({
    ...data,
    "pipelines/shop.yaml": valid,
    ...Object.fromEntries(mistakes.map((m, i) => [`bad/${i}.yaml`, m.text]))
  })
  afterAll(() => project.remove())

  it("holds at least 15 distinct mistakes", () => {
    assert.isAtLeast(new Set(mistakes.map((m) => m.says)).size, 15)
  })

  // Each its own process, a few at a time. The check is the same SQL and text on Deno: there, every
  // fourth mistake shows that the command runs and reports the same way (the file-at-once test
  // below has them all in one process).
  mistakes.forEach((m, i) => {
    if ("Deno" in globalThis && i % 4 !== 0) return
    it.concurrent(`exits 2 on ${m.name}, at the word that holds it`, async () => {
      const result = await startCli(started, project.dir, ["validate", `bad/${i}.yaml`]).done
      assert.strictEqual(result.code, 2, result.stdout + result.stderr)
      const problem = oneProblem(result.stderr)
      const at = within(m.text, m.at[0], m.at[1])
      assert.deepStrictEqual([problem.file, problem.line, problem.column], [`bad/${i}.yaml`, at.line, at.column], result.stderr)
      assert.include(problem.reason, m.says)
      assertNoStackTrace(result.stdout + result.stderr)
    })
  })

  it("exits 0 on a valid project and says which tables it checked, with the columns a later file adds", () => {
    const result = cli(project.dir, ["validate"])
    assert.strictEqual(result.code, 0, result.stdout + result.stderr)
    assert.include(result.stdout, "SQL of 6 table(s) checked against their inputs' columns (no rows read)")
    assert.strictEqual(result.stderr.trim(), "")
    const json = cli(project.dir, ["validate", "--json"])
    assert.strictEqual(json.code, 0, json.stderr)
    const doc = JSON.parse(json.stdout) as { sql_check: { checked: Array<string>; not_checked: Array<unknown> } }
    assert.deepStrictEqual(doc.sql_check.checked.toSorted(), ["bronze.customers", "bronze.events", "gold.daily", "gold.top", "silver.customers", "silver.events"])
    assert.deepStrictEqual(doc.sql_check.not_checked, [])
  })

  it("reports every mistake of a file at once, in the order they are written", () => {
    const text = `${sources}silver:
  typo:
    from: bronze.events
    transforms:
      - filter: amout > '1'
  broken:
    from: bronze.events
    expect:
      - { check: "status IN ('placed'" }
      - { not_null: [idd] }
`
    project.write("bad/several.yaml", text)
    const result = cli(project.dir, ["validate", "--json", "bad/several.yaml"])
    assert.strictEqual(result.code, 2, result.stdout + result.stderr)
    const doc = JSON.parse(result.stdout) as { valid: boolean; problems: Array<{ file: string; line: number; column: number; message: string }> }
    assert.strictEqual(doc.valid, false)
    const places = [within(text, "amout >", "amout"), within(text, `"status IN ('placed'"`, `"`), within(text, "[idd]", "idd")]
    assert.deepStrictEqual(
      doc.problems.map((p) => [p.line, p.column]),
      places.map((p) => [p.line, p.column])
    )
    assert.deepStrictEqual(
      doc.problems.map((p) => p.message.split(":")[0]),
      ["silver.typo.transforms[0].filter", "silver.broken.expect[0].check", "silver.broken.expect[1].not_null[0]"]
    )
  })

  it("--no-sql-check skips the check", () => {
    const result = cli(project.dir, ["validate", "--no-sql-check", "bad/0.yaml"])
    assert.strictEqual(result.code, 0, result.stdout + result.stderr)
    assert.notInclude(result.stdout, "SQL")
  })

  it("does not check a Databricks project's SQL (Spark SQL), and says so", () => {
    const databricks = makeProject({ ...data, "pipelines/shop.yaml": mistakes[0]!.text, "config/default.yaml": "engine: databricks\n" })
    try {
      const result = cli(databricks.dir, ["validate"])
      assert.strictEqual(result.code, 0, result.stdout + result.stderr)
      assert.include(result.stdout, "SQL not checked: engine: databricks runs Spark SQL")
    } finally {
      databricks.remove()
    }
  })

  it("with --no-data-check, does not check the tables fed by a source without files, and says why", () => {
    const later = makeProject({ "data/customers.csv": data["data/customers.csv"], "pipelines/shop.yaml": valid })
    try {
      const result = cli(later.dir, ["validate", "--no-data-check"])
      assert.strictEqual(result.code, 0, result.stdout + result.stderr)
      assert.include(result.stdout, "SQL of 2 table(s) checked against their inputs' columns (no rows read); 4 not checked:")
      assert.match(result.stdout, /bronze\.events +no file matches its source's path data\/events\/\*\.csv yet/)
      assert.match(result.stdout, /silver\.events +it reads bronze\.events, which is not checked \(no file matches/)
      assert.match(result.stdout, /gold\.top +it reads silver\.events, which is not checked/)
    } finally {
      later.remove()
    }
  })
})

describe("medallion validate and the warehouse", () => {
  it("creates no warehouse where there is none", () => {
    const fresh = makeProject({ ...data, "pipelines/shop.yaml": valid })
    try {
      const result = cli(fresh.dir, ["validate"])
      assert.strictEqual(result.code, 0, result.stdout + result.stderr)
      assert.isFalse(existsSync(join(fresh.dir, ".medallion")), "validate created .medallion/")
    } finally {
      fresh.remove()
    }
  })

  it("works while an apply holds the warehouse and its lock, leaves both as they were, and never runs a table's query", { timeout: 180_000 }, async () => {
    const busy = makeProject({ "pipelines/slow.yaml": endlessPipeline, "config/default.yaml": "duckdb: { threads: 1 }\n" })
    const warehouse = join(busy.dir, ".medallion", "warehouse.duckdb")
    const lock = `${warehouse}.lock`
    try {
      const apply = startCli(started, busy.dir, ["apply"])
      await until("the apply to take the warehouse", () => (existsSync(lock) && existsSync(warehouse)) || apply.child.exitCode !== null, 60_000)
      assert.isNull(apply.child.exitCode, apply.output().stderr)
      const before = { lock: readFileSync(lock, "utf8"), size: statSync(warehouse).size, mtime: statSync(warehouse).mtimeMs }
      // The slow table's query (a sum over 40 billion pairs) is bound, not run: validate ends at once.
      const began = Date.now()
      const result = cli(busy.dir, ["validate"])
      assert.strictEqual(result.code, 0, result.stdout + result.stderr)
      assert.include(result.stdout, "SQL of 1 table(s) checked")
      assert.isBelow(Date.now() - began, 60_000)
      assert.deepStrictEqual({ lock: readFileSync(lock, "utf8"), size: statSync(warehouse).size, mtime: statSync(warehouse).mtimeMs }, before)
      assert.isNull(apply.child.exitCode, "the apply is still running")
      process.kill(apply.child.pid!, "SIGINT")
      assert.strictEqual((await apply.done).code, 130)
    } finally {
      busy.remove()
    }
  })
})
