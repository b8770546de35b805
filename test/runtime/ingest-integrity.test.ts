/**
 * Bronze never loads a glob wrong: files of one source with different line endings, headers or
 * columns load together; a file that cannot be read fails the table naming it; a file written to
 * while it is read fails the table before anything is published; and a rebuild of an append table
 * keeps each file's arrival (batch, time, position) and skips repeated content.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem, Layer } from "effect"
import { appendFileSync } from "node:fs"
import { join } from "node:path"
import { engine, makeProject, planOf, runPlan } from "../support/project.ts"
import { assertBalanced, columnsOf, countOf, inProject, query, succeeded, tableOf } from "./harness.ts"

const pipeline = (path: string, incremental = false) => `
version: 1
pipeline: integrity
sources: { raw: { format: csv, path: "${path}"${incremental ? ", incremental: true" : ""} } }
bronze: { events: { from: raw } }
`

describe("bronze: one source, files that differ", () => {
  it.effect("CRLF beside LF files, a repeated header name and a column only a later file has load in one batch", () =>
    inProject(
      {
        "data/a.csv": "id,v\n1,a\n2,b\n",
        "data/b.csv": "id,v\r\n3,c\r\n4,d\r\n",
        "data/c.csv": "id,v,w\n5,e,x\n",
        "data/d.csv": "id,v,v\n6,f,g\n"
      },
      (project) =>
        Effect.gen(function* () {
          const report = yield* runPlan(project, planOf(pipeline("data/*.csv")))
          const t = succeeded(report, "bronze.events")
          assert.deepStrictEqual([t.rows_in, t.rows_out, t.rejected], [6, 6, 0])
          assertBalanced(t)
          assert.include(t.reason ?? "", "c.csv adds columns w (NULL for the files before it)")
          assert.deepStrictEqual(yield* columnsOf("bronze", "events"), ["id", "v", "_source_file", "_source_row", "_batch_id", "_ingested_at", "w", "v_1"])
          assert.deepStrictEqual(
            yield* query("SELECT id, v, w, v_1, regexp_extract(_source_file, '[a-d][.]csv$') AS file, _source_row::INTEGER AS row FROM bronze.events ORDER BY id::INTEGER"),
            [
              { id: "1", v: "a", w: null, v_1: null, file: "a.csv", row: 1 },
              { id: "2", v: "b", w: null, v_1: null, file: "a.csv", row: 2 },
              { id: "3", v: "c", w: null, v_1: null, file: "b.csv", row: 1 },
              { id: "4", v: "d", w: null, v_1: null, file: "b.csv", row: 2 },
              { id: "5", v: "e", w: "x", v_1: null, file: "c.csv", row: 1 },
              { id: "6", v: "f", w: null, v_1: "g", file: "d.csv", row: 1 }
            ]
          )
        })
    )
  )

  it.effect("a file the reader cannot read fails the table naming that file; nothing is published", () =>
    inProject(
      {
        "data/a.ndjson": '{"id": 1}\n',
        "data/b.ndjson": '{"id": 2\nnot json at all\n'
      },
      (project) =>
        Effect.gen(function* () {
          const report = yield* runPlan(
            project,
            planOf(`
version: 1
pipeline: integrity
sources: { raw: { format: ndjson, path: "data/*.ndjson" } }
bronze: { events: { from: raw } }
`)
          )
          const t = tableOf(report, "bronze.events")
          assert.strictEqual(t.status, "failed")
          assert.match(t.error ?? "", /bronze\.events: cannot read this file: .*\(.*data\/b\.ndjson\)/)
          assert.deepStrictEqual(yield* query("SELECT count(*)::INTEGER AS n FROM information_schema.tables WHERE table_schema = 'bronze'"), [{ n: 0 }])
        })
    )
  )
})

describe("bronze: a file written to while it is read", () => {
  /** The platform FileSystem, but a writer appends to `file` just as the run opens it to hash it (while the engine reads it). */
  const writerDuringRead = (file: string) =>
    Layer.effect(
      FileSystem.FileSystem,
      Effect.map(FileSystem.FileSystem, (fs) =>
        FileSystem.make({
          ...fs,
          open: (path, options) =>
            path === file
              ? Effect.andThen(
                  Effect.sync(() => appendFileSync(file, "99,late\n")),
                  fs.open(path, options)
                )
              : fs.open(path, options)
        })
      )
    )

  it.effect("fails the table before anything is published; the next apply ingests the whole file once", () => {
    const project = makeProject({ "data/a.csv": "id,v\n1,a\n" })
    const big = join(project.dir, "data", "b.csv")
    const plan = planOf(pipeline("data/*.csv", true))
    return Effect.gen(function* () {
      const first = yield* runPlan(project, plan)
      succeeded(first, "bronze.events")
      project.write("data/b.csv", "id,v\n2,b\n3,c\n")
      const torn = yield* runPlan(project, plan).pipe(Effect.provide(writerDuringRead(big)))
      const t = tableOf(torn, "bronze.events")
      assert.strictEqual(t.status, "failed")
      assert.match(t.error ?? "", /the file changed size from 13 to 21 bytes while it was being read; nothing was published.*data\/b\.csv/)
      assert.deepStrictEqual(yield* query("SELECT id FROM bronze.events ORDER BY id"), [{ id: "1" }])
      assert.deepStrictEqual(yield* query("SELECT count(*)::INTEGER AS n FROM _medallion.ingested_files WHERE path LIKE '%b.csv'"), [{ n: 0 }])

      const after = yield* runPlan(project, plan)
      succeeded(after, "bronze.events")
      assert.deepStrictEqual(yield* query("SELECT id, v FROM bronze.events ORDER BY id::INTEGER"), [
        { id: "1", v: "a" },
        { id: "2", v: "b" },
        { id: "3", v: "c" },
        { id: "99", v: "late" }
      ])
    }).pipe(Effect.provide(engine(project)), Effect.ensuring(Effect.sync(project.remove)))
  })
})

describe("bronze: a rebuild of an append table", () => {
  it.effect("keeps the first copy of repeated content, as the incremental runs did", () =>
    inProject({ "data/a.csv": "id,v\n1,a\n" }, (project) =>
      Effect.gen(function* () {
        const plan = planOf(pipeline("data/*.csv", true))
        yield* runPlan(project, plan)
        project.write("data/z-copy.csv", "id,v\n1,a\n")
        const again = yield* runPlan(project, plan)
        assert.strictEqual(yield* countOf("bronze.events"), 1)
        succeeded(again, "bronze.events")
        const incremental = yield* query("SELECT id, _batch_id, _source_file, _source_row FROM bronze.events")
        const refresh = yield* runPlan(project, plan, [], { fullRefresh: true })
        const b = succeeded(refresh, "bronze.events")
        assert.include(b.reason ?? "", "z-copy.csv has the content of")
        assert.deepStrictEqual(yield* query("SELECT id, _batch_id, _source_file, _source_row FROM bronze.events"), incremental)
      })
    )
  )
})
