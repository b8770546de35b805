/**
 * CSV lines the reader cannot keep exactly reach `__rejects` whole: a line longer than
 * `max_line_bytes` is set aside (the rest of its file loads, quickly), a line that is not UTF-8
 * keeps its exact bytes in `raw_bytes`; in replace and append mode, and their line numbers are the
 * file's.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { planOf, runPlan } from "../support/project.ts"
import { countsOf, inProject, query, succeeded, tableOf } from "./harness.ts"

const pipeline = (mode: "replace" | "append", options = "") =>
  planOf(`
version: 1
pipeline: lines
sources: { feed: { format: csv, path: "data/*.csv"${options === "" ? "" : `, options: { ${options} }`} } }
bronze: { feed: { from: feed, mode: ${mode} } }
`)

const rejects = query(
  `SELECT regexp_extract(source_file, '[^/\\\\]+$') AS file, line::INTEGER AS line, error_type, octet_length(raw_bytes)::INTEGER AS bytes,
     CASE WHEN octet_length(raw_bytes) < 100 THEN hex(raw_bytes) END AS hex
   FROM bronze.feed__rejects ORDER BY file, line`
)

const long = "x".repeat(5_000)
/** 3 rows, a line of 5,002 bytes (line 4), a row with too many fields (line 6, line 5 of the copy read), 1 row. */
const withLongLine = `id,v\n1,a\n2,b\n9,${long}\n3,c\n4,d,extra\n5,e\n`

describe("lines the reader cannot keep exactly", () => {
  it.effect("a line longer than max_line_bytes goes to the rejects with its bytes; the rest of the file loads with the file's line numbers", () =>
    inProject({ "data/a.csv": withLongLine, "data/b.csv": "id,v\n6,f\n" }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(project, pipeline("replace", "max_line_bytes: 1000"))
        assert.deepStrictEqual(countsOf(succeeded(report, "bronze.feed")), {
          rows_in: 7,
          rows_out: 5,
          quarantined: 0,
          dropped: 0,
          duplicates: 0,
          rejected: 2,
          dropped_by_reason: {}
        })
        assert.deepStrictEqual(yield* rejects, [
          { file: "a.csv", line: 4, error_type: "LINE SIZE OVER MAXIMUM", bytes: 5_002, hex: null },
          { file: "a.csv", line: 6, error_type: "TOO MANY COLUMNS", bytes: null, hex: null }
        ])
        const bytes = yield* query("SELECT raw_bytes::VARCHAR = '9,' || repeat('x', 5000) AS same FROM bronze.feed__rejects WHERE line = 4")
        assert.deepStrictEqual(bytes, [{ same: true }])
        // The rows read from the copy are named by the file, and numbered in it as they come.
        assert.deepStrictEqual(yield* query("SELECT id, regexp_extract(_source_file, '[^/\\\\]+$') AS file, _source_row::INTEGER AS r FROM bronze.feed ORDER BY id"), [
          { id: "1", file: "a.csv", r: 1 },
          { id: "2", file: "a.csv", r: 2 },
          { id: "3", file: "a.csv", r: 3 },
          { id: "5", file: "a.csv", r: 4 },
          { id: "6", file: "b.csv", r: 1 }
        ])
      })
    )
  )

  it.effect("a CRLF file and the default limit: a 3 MB line is set aside in an append table, and a rebuild gives the same rejects", () =>
    inProject({}, (project) =>
      Effect.gen(function* () {
        project.write("data/a.csv", `id,v\r\n1,a\r\n2,${"y".repeat(3_000_000)}\r\n3,c\r\n`)
        const plan = pipeline("append")
        const first = yield* runPlan(project, plan)
        assert.deepStrictEqual(countsOf(succeeded(first, "bronze.feed")), {
          rows_in: 3,
          rows_out: 2,
          quarantined: 0,
          dropped: 0,
          duplicates: 0,
          rejected: 1,
          dropped_by_reason: {}
        })
        const expected = [{ file: "a.csv", line: 3, error_type: "LINE SIZE OVER MAXIMUM", bytes: 3_000_002, hex: null }]
        assert.deepStrictEqual(yield* rejects, expected)
        const rebuilt = yield* runPlan(project, plan, [], { fullRefresh: true })
        assert.strictEqual(tableOf(rebuilt, "bronze.feed").status, "succeeded")
        assert.deepStrictEqual(yield* rejects, expected)
        assert.deepStrictEqual(yield* query("SELECT id, v FROM bronze.feed ORDER BY id"), [
          { id: "1", v: "a" },
          { id: "3", v: "c" }
        ])
      })
    )
  )

  it.effect("a header line longer than max_line_bytes fails the table, naming the file, the size and what to do", () =>
    inProject({ "data/a.csv": `id,${long}\n1,a\n` }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(project, pipeline("replace", "max_line_bytes: 1000"))
        const t = tableOf(report, "bronze.feed")
        assert.strictEqual(t.status, "failed")
        assert.match(t.error ?? "", /line 1, the header, is 5003 bytes.*max_line_bytes \(1000\).*a\.csv/s)
      })
    )
  )

  it.effect("a line that is not UTF-8 is rejected with its exact bytes in raw_bytes, LF or CRLF, in replace and append mode", () =>
    inProject({}, (project) =>
      Effect.gen(function* () {
        mkdirSync(join(project.dir, "data"), { recursive: true })
        // Latin-1 "café" (0xE9), and a quoted field across two lines before the second bad line.
        writeFileSync(join(project.dir, "data", "a.csv"), Buffer.from('id,v\n1,ok\n2,caf\xe9 au lait\n3,"x\ny"\n4,\xe9t\xe9\n5,fine\n', "latin1"))
        writeFileSync(join(project.dir, "data", "b.csv"), Buffer.from("id,v\r\n6,\xff\xfe\r\n7,ok\r\n", "latin1"))
        for (const mode of ["replace", "append"] as const) {
          const report = yield* runPlan(project, pipeline(mode), [], { fullRefresh: true })
          assert.deepStrictEqual(countsOf(succeeded(report, "bronze.feed")).rejected, 3, mode)
          assert.deepStrictEqual(
            (yield* rejects).map(({ file, error_type, hex }) => ({ file, error_type, hex })),
            [
              { file: "a.csv", error_type: "INVALID ENCODING", hex: Buffer.from("2,caf\xe9 au lait", "latin1").toString("hex").toUpperCase() },
              { file: "a.csv", error_type: "INVALID ENCODING", hex: Buffer.from("4,\xe9t\xe9", "latin1").toString("hex").toUpperCase() },
              { file: "b.csv", error_type: "INVALID ENCODING", hex: Buffer.from("6,\xff\xfe", "latin1").toString("hex").toUpperCase() }
            ],
            mode
          )
          // The reader's text of such a line starts at the line, not at the line breaks before it.
          assert.deepStrictEqual(yield* query("SELECT count(*)::INTEGER AS n FROM bronze.feed__rejects WHERE raw_line SIMILAR TO '[0-9],.*'"), [{ n: 3 }], mode)
          assert.deepStrictEqual(yield* query("SELECT id FROM bronze.feed ORDER BY id"), [{ id: "1" }, { id: "3" }, { id: "5" }, { id: "7" }], mode)
        }
      })
    )
  )
})
