/**
 * `_source_file` names a file as the project does (relative, with `/`), so that two checkouts of
 * one project hold the same rows; a file outside the project keeps its absolute path.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { planOf, runPlan } from "../support/project.ts"
import { inProject, query } from "./harness.ts"

describe("_source_file", () => {
  it.effect("is relative to the project inside it (rows and rejects alike) and absolute outside it", () => {
    const outside = mkdtempSync(join(tmpdir(), "medallion-outside-"))
    writeFileSync(join(outside, "far.csv"), "id,name\n9,far\n")
    return inProject({ "data/in/sub/a.csv": "id,name\n1,a\n2,b,extra\n", "data/in/b.csv": "id,name\n3,c\n" }, (project) =>
      Effect.gen(function* () {
        const report = yield* runPlan(
          project,
          planOf(`
version: 1
pipeline: names
sources:
  near: { format: csv, path: "data/in/**/*.csv" }
  far: { format: csv, path: ${JSON.stringify(join(outside, "far.csv"))} }
bronze:
  near: { from: near, mode: append }
  far: { from: far }
`)
        )
        assert.strictEqual(report.run.status, "succeeded")
        assert.deepStrictEqual(yield* query("SELECT id, _source_file FROM bronze.near ORDER BY id"), [
          { id: "1", _source_file: "data/in/sub/a.csv" },
          { id: "3", _source_file: "data/in/b.csv" }
        ])
        assert.deepStrictEqual(yield* query("SELECT source_file, line FROM bronze.near__rejects"), [{ source_file: "data/in/sub/a.csv", line: "3" }])
        assert.deepStrictEqual(yield* query("SELECT _source_file FROM bronze.far"), [{ _source_file: join(outside, "far.csv") }])
      })
    ).pipe(Effect.ensuring(Effect.sync(() => rmSync(outside, { recursive: true, force: true }))))
  })
})
