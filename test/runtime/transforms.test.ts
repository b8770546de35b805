/**
 * Every transform step, run end to end on a real DuckDB file: the published rows and the
 * table's accounting.
 */
import { createHash } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { planOf, runPlan } from "../support/project.ts"
import { assertBalanced, columnsOf, countsOf, inProject, objectsIn, query, succeeded } from "./harness.ts"

const people = [
  "id,name,email,city,amount,ts",
  "1,  Alice  ,ALICE@X.com,Paris,10.5,2024-01-01 10:15:00",
  "2,Bob,bob@x.com,,20,2024-01-01 11:30:00",
  "2,Bob2,BOB2@x.com,Rome,25,2024-01-02 11:30:00",
  "3,Carol,,Rome,abc,2024-01-02 09:00:00",
  "4,Dan,dan@x.com,Oslo,5,bad",
  ""
].join("\n")

/** A pipeline reading data/people.csv into bronze.people, plus the given silver/gold YAML. */
const peoplePipeline = (tables: string) =>
  planOf(`
version: 1
pipeline: people
sources: { people: { format: csv, path: data/people.csv } }
bronze: { people: { from: people } }
${tables}
`)

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

describe("transforms", () => {
  it.effect("select (with `expr as name`), drop and rename shape the columns", () =>
    inProject({ "data/people.csv": people }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          peoplePipeline(`
silver:
  picked:
    from: bronze.people
    transforms:
      - select: [id, "upper(trim(name)) as name_up", "try_cast(amount as double) * 2 as double_amount"]
  dropped:
    from: bronze.people
    transforms:
      - drop: [email, ts, _source_file, _ingested_at]
  renamed:
    from: bronze.people
    transforms:
      - rename: { name: full_name, city: town }
      - select: [id, full_name, town]
  keywords:
    from: bronze.people
    transforms:
      - rename: { city: at }
      - select: [id, at]
`)
        )
        for (const id of ["silver.picked", "silver.dropped", "silver.renamed"]) {
          const t = succeeded(report, id)
          assert.deepStrictEqual(countsOf(t), { rows_in: 5, rows_out: 5, quarantined: 0, dropped: 0, duplicates: 0, rejected: 0, dropped_by_reason: {} })
          assertBalanced(t)
        }
        assert.deepStrictEqual(yield* columnsOf("silver", "picked"), ["id", "name_up", "double_amount"])
        // A bare name is quoted, so a column named after a keyword can be selected.
        assert.deepStrictEqual(yield* columnsOf("silver", "keywords"), ["id", "at"])
        assert.deepStrictEqual(yield* query("SELECT id, name_up, double_amount FROM silver.picked ORDER BY id, name_up"), [
          { id: "1", name_up: "ALICE", double_amount: 21 },
          { id: "2", name_up: "BOB", double_amount: 40 },
          { id: "2", name_up: "BOB2", double_amount: 50 },
          { id: "3", name_up: "CAROL", double_amount: null },
          { id: "4", name_up: "DAN", double_amount: 10 }
        ])
        assert.deepStrictEqual(yield* columnsOf("silver", "dropped"), ["id", "name", "city", "amount", "_source_row", "_batch_id"])
        assert.deepStrictEqual(yield* columnsOf("silver", "renamed"), ["id", "full_name", "town"])
        assert.deepStrictEqual(yield* query("SELECT id, full_name, town FROM silver.renamed WHERE id IN ('2', '4') ORDER BY full_name"), [
          { id: "2", full_name: "Bob", town: null },
          { id: "2", full_name: "Bob2", town: "Rome" },
          { id: "4", full_name: "Dan", town: "Oslo" }
        ])
        // No marker or stage columns leak into published tables.
        const leaked = yield* query("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'silver' AND column_name LIKE '\\_\\_%' ESCAPE '\\'")
        assert.deepStrictEqual(leaked, [])
      })
    )
  )

  it.effect("cast with on_error: null keeps every row and nulls what cannot be cast", () =>
    inProject({ "data/people.csv": people }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          peoplePipeline(`
silver:
  typed:
    from: bronze.people
    transforms:
      - cast: { columns: { id: integer, amount: double, ts: timestamp }, on_error: "null" }
`)
        )
        const t = succeeded(report, "silver.typed")
        assert.deepStrictEqual(countsOf(t), { rows_in: 5, rows_out: 5, quarantined: 0, dropped: 0, duplicates: 0, rejected: 0, dropped_by_reason: {} })
        assertBalanced(t)
        const types = yield* query(
          "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'silver' AND table_name = 'typed' AND column_name IN ('id', 'amount', 'ts') ORDER BY column_name"
        )
        assert.deepStrictEqual(types, [
          { column_name: "amount", data_type: "DOUBLE" },
          { column_name: "id", data_type: "INTEGER" },
          { column_name: "ts", data_type: "TIMESTAMP" }
        ])
        assert.deepStrictEqual(yield* query("SELECT id, amount, CAST(ts AS VARCHAR) AS ts FROM silver.typed ORDER BY id, amount"), [
          { id: 1, amount: 10.5, ts: "2024-01-01 10:15:00" },
          { id: 2, amount: 20, ts: "2024-01-01 11:30:00" },
          { id: 2, amount: 25, ts: "2024-01-02 11:30:00" },
          { id: 3, amount: null, ts: "2024-01-02 09:00:00" },
          { id: 4, amount: 5, ts: null }
        ])
        // Nothing is quarantined with on_error: null, so no quarantine table is created.
        assert.notProperty(yield* objectsIn("silver"), "typed__quarantine")
      })
    )
  )

  it.effect("cast with on_error: quarantine moves uncastable rows to __quarantine naming cast(col)", () =>
    inProject({ "data/people.csv": `${people}5,Eve,eve@x.com,Nice,zz,never\n` }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          peoplePipeline(`
silver:
  typed:
    from: bronze.people
    transforms:
      - cast: { columns: { amount: double, ts: timestamp }, on_error: quarantine }
`)
        )
        const t = succeeded(report, "silver.typed")
        assert.deepStrictEqual(countsOf(t), { rows_in: 6, rows_out: 3, quarantined: 3, dropped: 0, duplicates: 0, rejected: 0, dropped_by_reason: {} })
        assertBalanced(t)
        assert.deepStrictEqual(yield* query("SELECT name, amount FROM silver.typed ORDER BY name"), [
          { name: "  Alice  ", amount: 10.5 },
          { name: "Bob", amount: 20 },
          { name: "Bob2", amount: 25 }
        ])
        const quarantined = yield* query("SELECT name, _expectations, _quarantine_batch_id FROM silver.typed__quarantine ORDER BY name")
        assert.deepStrictEqual(
          quarantined.map((r) => [r["name"], r["_expectations"]]),
          [
            ["Carol", ["cast(amount)"]],
            ["Dan", ["cast(ts)"]],
            ["Eve", ["cast(amount)", "cast(ts)"]]
          ]
        )
        for (const r of quarantined) assert.strictEqual(r["_quarantine_batch_id"], report.run.batch_id)
        // The typed column holds NULL; the value as it arrived is kept beside it.
        assert.deepStrictEqual(yield* query("SELECT name, amount, _raw_amount, _raw_ts FROM silver.typed__quarantine ORDER BY name"), [
          { name: "Carol", amount: null, _raw_amount: "abc", _raw_ts: null },
          { name: "Dan", amount: 5, _raw_amount: null, _raw_ts: "bad" },
          { name: "Eve", amount: null, _raw_amount: "zz", _raw_ts: "never" }
        ])
      })
    )
  )

  it.effect("trim, lowercase, fill_nulls and drop_nulls (counted in dropped_by_reason)", () =>
    inProject({ "data/people.csv": people }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          peoplePipeline(`
silver:
  clean:
    from: bronze.people
    transforms:
      - trim: [name]
      - lowercase: [email, name]
      - fill_nulls: { city: Unknown }
      - drop_nulls: [email]
  amounts:
    from: bronze.people
    transforms:
      - cast: { columns: { amount: double }, on_error: "null" }
      - fill_nulls: { amount: 0, email: none }
      - select: [name, email, amount]
`)
        )
        const clean = succeeded(report, "silver.clean")
        assert.deepStrictEqual(countsOf(clean), { rows_in: 5, rows_out: 4, quarantined: 0, dropped: 1, duplicates: 0, rejected: 0, dropped_by_reason: { drop_nulls: 1 } })
        assertBalanced(clean)
        assert.deepStrictEqual(yield* query("SELECT id, name, email, city FROM silver.clean ORDER BY id, name"), [
          { id: "1", name: "alice", email: "alice@x.com", city: "Paris" },
          { id: "2", name: "bob", email: "bob@x.com", city: "Unknown" },
          { id: "2", name: "bob2", email: "bob2@x.com", city: "Rome" },
          { id: "4", name: "dan", email: "dan@x.com", city: "Oslo" }
        ])
        const amounts = succeeded(report, "silver.amounts")
        assert.deepStrictEqual(countsOf(amounts), { rows_in: 5, rows_out: 5, quarantined: 0, dropped: 0, duplicates: 0, rejected: 0, dropped_by_reason: {} })
        assert.deepStrictEqual(yield* query("SELECT name, email, amount FROM silver.amounts WHERE name IN ('Carol', 'Bob') ORDER BY name"), [
          { name: "Bob", email: "bob@x.com", amount: 20 },
          { name: "Carol", email: "none", amount: 0 }
        ])
      })
    )
  )

  it.effect("dedupe keeps the first or last row per key by order_by and counts duplicates", () =>
    inProject({ "data/people.csv": `${people}4,Dan2,dan2@x.com,Oslo,6,2024-01-03 00:00:00\n4,Dan3,dan3@x.com,Oslo,7,2024-01-04 00:00:00\n` }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          peoplePipeline(`
silver:
  newest:
    from: bronze.people
    transforms:
      - dedupe: { keys: [id], order_by: ts desc }
  oldest:
    from: bronze.people
    transforms:
      - dedupe: { keys: [id], order_by: ts desc, keep: last }
  by_list:
    from: bronze.people
    transforms:
      - dedupe: { keys: [id], order_by: [city nulls first, name desc], keep: first }
  multi_key:
    from: bronze.people
    transforms:
      - dedupe: { keys: [id, city], order_by: name }
  after_filter:
    from: bronze.people
    transforms:
      - filter: "name not in ('Bob2', 'Dan2', 'Dan3')"
      - dedupe: { keys: [id], order_by: name }
`)
        )
        const names = (table: string) => Effect.map(query(`SELECT id, name FROM silver.${table} ORDER BY id, name`), (r) => r.map((x) => `${x["id"]}:${x["name"]}`))
        const newest = succeeded(report, "silver.newest")
        assert.deepStrictEqual(countsOf(newest), { rows_in: 7, rows_out: 4, quarantined: 0, dropped: 0, duplicates: 3, rejected: 0, dropped_by_reason: {} })
        assertBalanced(newest)
        // ts is still text here, so Dan's 'bad' sorts after the dates and comes first descending.
        assert.deepStrictEqual(yield* names("newest"), ["1:  Alice  ", "2:Bob2", "3:Carol", "4:Dan"])
        const oldest = succeeded(report, "silver.oldest")
        assert.deepStrictEqual(oldest.duplicates, 3)
        assert.deepStrictEqual(yield* names("oldest"), ["1:  Alice  ", "2:Bob", "3:Carol", "4:Dan2"])
        assert.deepStrictEqual(yield* names("by_list"), ["1:  Alice  ", "2:Bob", "3:Carol", "4:Dan3"])
        assert.strictEqual(succeeded(report, "silver.by_list").duplicates, 3)
        // (2, NULL) and (2, Rome) are different keys; the three Oslo rows of id 4 are one.
        const multi = succeeded(report, "silver.multi_key")
        assert.deepStrictEqual([multi.rows_out, multi.duplicates], [5, 2])
        assert.deepStrictEqual(yield* names("multi_key"), ["1:  Alice  ", "2:Bob", "2:Bob2", "3:Carol", "4:Dan"])
        // Rows already removed by the filter are not duplicates of the rows that remain.
        const afterFilter = succeeded(report, "silver.after_filter")
        assert.deepStrictEqual(countsOf(afterFilter), { rows_in: 7, rows_out: 4, quarantined: 0, dropped: 3, duplicates: 0, rejected: 0, dropped_by_reason: { filter: 3 } })
        assertBalanced(afterFilter)
      })
    )
  )

  it.effect("filter keeps rows where the predicate is true; false and null are counted as dropped", () =>
    inProject({ "data/people.csv": people }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          peoplePipeline(`
silver:
  not_oslo:
    from: bronze.people
    transforms:
      - filter: "city <> 'Oslo'"
      - filter: "name <> 'Carol'"
`)
        )
        const t = succeeded(report, "silver.not_oslo")
        // Dan (Oslo) and Bob (city NULL) fail the first filter; Carol the second.
        assert.deepStrictEqual(countsOf(t), { rows_in: 5, rows_out: 2, quarantined: 0, dropped: 3, duplicates: 0, rejected: 0, dropped_by_reason: { filter: 3 } })
        assertBalanced(t)
        assert.deepStrictEqual(yield* query("SELECT name FROM silver.not_oslo ORDER BY name"), [{ name: "  Alice  " }, { name: "Bob2" }])
      })
    )
  )

  it.effect("derive adds and replaces columns; later entries and steps see earlier ones", () =>
    inProject({ "data/people.csv": people }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          peoplePipeline(`
silver:
  derived:
    from: bronze.people
    transforms:
      - derive:
          amount: try_cast(amount as double)
          doubled: amount * 2
          label: "trim(name) || '#' || id"
      - derive: { quadrupled: doubled * 2, label: "upper(label)" }
      - select: [id, label, amount, doubled, quadrupled]
`)
        )
        const t = succeeded(report, "silver.derived")
        assert.deepStrictEqual(countsOf(t), { rows_in: 5, rows_out: 5, quarantined: 0, dropped: 0, duplicates: 0, rejected: 0, dropped_by_reason: {} })
        const types = yield* query(
          "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'silver' AND table_name = 'derived' ORDER BY ordinal_position"
        )
        assert.deepStrictEqual(
          types.map((r) => [r["column_name"], r["data_type"]]),
          [
            ["id", "VARCHAR"],
            ["label", "VARCHAR"],
            ["amount", "DOUBLE"],
            ["doubled", "DOUBLE"],
            ["quadrupled", "DOUBLE"]
          ]
        )
        assert.deepStrictEqual(yield* query("SELECT label, amount, doubled, quadrupled FROM silver.derived ORDER BY label"), [
          { label: "ALICE#1", amount: 10.5, doubled: 21, quadrupled: 42 },
          { label: "BOB#2", amount: 20, doubled: 40, quadrupled: 80 },
          { label: "BOB2#2", amount: 25, doubled: 50, quadrupled: 100 },
          { label: "CAROL#3", amount: null, doubled: null, quadrupled: null },
          { label: "DAN#4", amount: 5, doubled: 10, quadrupled: 20 }
        ])
      })
    )
  )

  it.effect("mask: hash is sha256 hex, redact, partial keeps the last 4 characters, null; nulls stay null", () =>
    inProject(
      {
        "data/people.csv": people,
        "data/contacts.csv": "cid,email,phone,ssn,note\n1,a@x.com,555-123-4567,123-45-6789,hello\n2,,12,,x\n3,b@y.org,98765,000,\n"
      },
      (project) =>
        Effect.gen(function* () {
          const report = yield* runPlan(
            project,
            planOf(`
version: 1
pipeline: pii
sources: { contacts: { format: csv, path: data/contacts.csv } }
bronze: { contacts: { from: contacts } }
silver:
  contacts:
    from: bronze.contacts
    transforms:
      - mask: { email: hash, phone: partial, ssn: redact, note: "null" }
      - select: [cid, email, phone, ssn, note]
`)
          )
          const t = succeeded(report, "silver.contacts")
          assert.deepStrictEqual([t.rows_in, t.rows_out], [3, 3])
          assert.deepStrictEqual(yield* query("SELECT cid, email, phone, ssn, note FROM silver.contacts ORDER BY cid"), [
            { cid: "1", email: sha256("a@x.com"), phone: "********4567", ssn: "[REDACTED]", note: null },
            { cid: "2", email: null, phone: "**", ssn: null, note: null },
            { cid: "3", email: sha256("b@y.org"), phone: "*8765", ssn: "[REDACTED]", note: null }
          ])
          assert.match(String((yield* query("SELECT email FROM silver.contacts WHERE cid = '1'"))[0]!["email"]), /^[0-9a-f]{64}$/)
        })
    )
  )

  it.effect("join: left and inner on a key list or an expression; inner unmatched rows are dropped as join_unmatched", () =>
    inProject(
      {
        "data/orders.csv": "order_id,customer_id,amount\n10,1,5\n11,2,7\n12,9,3\n13,1,4\n",
        "data/customers.csv": "customer_id,segment,country\n1,gold,FR\n2,silver,IT\n3,bronze,ES\n"
      },
      (project) =>
        Effect.gen(function* () {
          const report = yield* runPlan(
            project,
            planOf(`
version: 1
pipeline: shop
sources:
  orders: { format: csv, path: data/orders.csv }
  customers: { format: csv, path: data/customers.csv }
bronze: { orders: { from: orders }, customers: { from: customers } }
silver:
  customers:
    from: bronze.customers
    transforms: [ { select: [customer_id, segment, country] } ]
  orders_left:
    from: bronze.orders
    transforms:
      - select: [order_id, customer_id, amount]
      - join: { to: silver.customers, on: [customer_id], how: left }
  orders_inner:
    from: bronze.orders
    transforms:
      - select: [order_id, customer_id, amount]
      - join: { to: silver.customers, on: [customer_id], how: inner, columns: [segment] }
  orders_expr:
    from: bronze.orders
    transforms:
      - select: [order_id, customer_id]
      - join: { to: silver.customers, on: "l.customer_id = r.customer_id and r.country = 'FR'", how: inner, columns: [country] }
`)
          )
          const left = succeeded(report, "silver.orders_left")
          assert.deepStrictEqual(countsOf(left), { rows_in: 4, rows_out: 4, quarantined: 0, dropped: 0, duplicates: 0, rejected: 0, dropped_by_reason: {} })
          assert.deepStrictEqual(yield* columnsOf("silver", "orders_left"), ["order_id", "customer_id", "amount", "segment", "country"])
          assert.deepStrictEqual(yield* query("SELECT order_id, segment, country FROM silver.orders_left ORDER BY order_id"), [
            { order_id: "10", segment: "gold", country: "FR" },
            { order_id: "11", segment: "silver", country: "IT" },
            { order_id: "12", segment: null, country: null },
            { order_id: "13", segment: "gold", country: "FR" }
          ])
          const inner = succeeded(report, "silver.orders_inner")
          assert.deepStrictEqual(countsOf(inner), { rows_in: 4, rows_out: 3, quarantined: 0, dropped: 1, duplicates: 0, rejected: 0, dropped_by_reason: { join_unmatched: 1 } })
          assertBalanced(inner)
          assert.deepStrictEqual(yield* columnsOf("silver", "orders_inner"), ["order_id", "customer_id", "amount", "segment"])
          assert.deepStrictEqual(yield* query("SELECT order_id, segment FROM silver.orders_inner ORDER BY order_id"), [
            { order_id: "10", segment: "gold" },
            { order_id: "11", segment: "silver" },
            { order_id: "13", segment: "gold" }
          ])
          const expr = succeeded(report, "silver.orders_expr")
          assert.deepStrictEqual(countsOf(expr), { rows_in: 4, rows_out: 2, quarantined: 0, dropped: 2, duplicates: 0, rejected: 0, dropped_by_reason: { join_unmatched: 2 } })
          assert.deepStrictEqual(yield* query("SELECT order_id, country FROM silver.orders_expr ORDER BY order_id"), [
            { order_id: "10", country: "FR" },
            { order_id: "13", country: "FR" }
          ])
        })
    )
  )

  const events = ["ts,kind,amount", "2024-01-01 10:15:00,a,1", "2024-01-01 10:45:00,a,2", "2024-01-01 11:05:00,b,3", "2024-01-02 09:00:00,a,4", "2024-01-02 09:59:59,b,5", ""].join(
    "\n"
  )
  const eventsPipeline = (tables: string) =>
    planOf(`
version: 1
pipeline: events
sources: { events: { format: csv, path: data/events.csv } }
bronze: { events: { from: events } }
silver:
  events:
    from: bronze.events
    transforms:
      - cast: { ts: timestamp, amount: integer }
      - select: [ts, kind, amount]
${tables}
`)

  it.effect("aggregate and tumbling windows of 1 day and 1 hour", () =>
    inProject({ "data/events.csv": events }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          eventsPipeline(`
gold:
  by_kind:
    from: silver.events
    transforms:
      - aggregate: { by: [kind], metrics: { n: "count(*)", total: sum(amount), biggest: max(amount) } }
  overall:
    from: silver.events
    transforms:
      - aggregate: { metrics: { n: "count(*)", total: sum(amount) } }
  daily:
    from: silver.events
    transforms:
      - window: { column: ts, every: 1 day, as: day }
      - aggregate: { by: [day], metrics: { n: "count(*)", total: sum(amount) } }
  hourly:
    from: silver.events
    transforms:
      - window: { column: ts, every: 1h, as: hour }
      - aggregate: { by: [hour, kind], metrics: { n: "count(*)" } }
`)
        )
        for (const id of ["gold.by_kind", "gold.overall", "gold.daily", "gold.hourly"]) assertBalanced(succeeded(report, id))
        assert.deepStrictEqual(yield* query("SELECT kind, n::INTEGER AS n, total::INTEGER AS total, biggest FROM gold.by_kind ORDER BY kind"), [
          { kind: "a", n: 3, total: 7, biggest: 4 },
          { kind: "b", n: 2, total: 8, biggest: 5 }
        ])
        assert.deepStrictEqual(succeeded(report, "gold.by_kind").rows_out, 2)
        assert.deepStrictEqual(yield* query("SELECT n::INTEGER AS n, total::INTEGER AS total FROM gold.overall"), [{ n: 5, total: 15 }])
        assert.deepStrictEqual(yield* query("SELECT CAST(day AS VARCHAR) AS day, n::INTEGER AS n, total::INTEGER AS total FROM gold.daily ORDER BY day"), [
          { day: "2024-01-01 00:00:00", n: 3, total: 6 },
          { day: "2024-01-02 00:00:00", n: 2, total: 9 }
        ])
        assert.deepStrictEqual(yield* query("SELECT CAST(hour AS VARCHAR) AS hour, kind, n::INTEGER AS n FROM gold.hourly ORDER BY hour, kind"), [
          { hour: "2024-01-01 10:00:00", kind: "a", n: 2 },
          { hour: "2024-01-01 11:00:00", kind: "b", n: 1 },
          { hour: "2024-01-02 09:00:00", kind: "a", n: 1 },
          { hour: "2024-01-02 09:00:00", kind: "b", n: 1 }
        ])
      })
    )
  )

  it.effect("a sql step reads {{ input }}; a table-level sql reads {{ layer.table }} references", () =>
    inProject({ "data/events.csv": events, "data/kinds.csv": "kind,label\na,Alpha\nb,Beta\n" }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          planOf(`
version: 1
pipeline: events
sources:
  events: { format: csv, path: data/events.csv }
  kinds: { format: csv, path: data/kinds.csv }
bronze: { events: { from: events }, kinds: { from: kinds } }
silver:
  events:
    from: bronze.events
    transforms:
      - cast: { amount: integer }
      - sql: "select kind, amount * 10 as amount10 from {{ input }} where kind = 'a'"
      - filter: amount10 > 10
  labelled:
    sql: >
      select k.label, sum(e.amount10)::INTEGER as total
      from {{ silver.events }} e join {{ bronze.kinds }} k using (kind)
      group by 1
`)
        )
        const events = succeeded(report, "silver.events")
        // Accounting restarts after the sql step: its 3 rows are the input; the filter drops one.
        assert.deepStrictEqual(countsOf(events), { rows_in: 3, rows_out: 2, quarantined: 0, dropped: 1, duplicates: 0, rejected: 0, dropped_by_reason: { filter: 1 } })
        assertBalanced(events)
        assert.deepStrictEqual(yield* query("SELECT kind, amount10 FROM silver.events ORDER BY amount10"), [
          { kind: "a", amount10: 20 },
          { kind: "a", amount10: 40 }
        ])
        const labelled = succeeded(report, "silver.labelled")
        assert.deepStrictEqual([labelled.rows_in, labelled.rows_out], [1, 1])
        assert.deepStrictEqual(yield* query("SELECT label, total FROM silver.labelled"), [{ label: "Alpha", total: 60 }])
        // The sql table ran after both of its references.
        const order = report.tables.map((t) => t.table)
        assert.isTrue(order.indexOf("silver.labelled") > order.indexOf("silver.events"))
      })
    )
  )
})
