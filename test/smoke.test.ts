import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { engine, makeProject, planOf, rows, runPlan } from "./support/project.ts"

describe("smoke", () => {
  it.effect("runs a pipeline end to end", () => {
    const project = makeProject({ "data/a.csv": "id,v\n1,2\n3,4\n" })
    const plan = planOf(`
version: 1
pipeline: p
sources: { a: { format: csv, path: data/a.csv } }
bronze: { a: { from: a } }
silver:
  a: { from: bronze.a, transforms: [ { cast: { id: int, v: int } } ] }
`)
    return Effect.gen(function* () {
      const report = yield* runPlan(project, plan)
      assert.strictEqual(report.run.status, "succeeded")
      const result = yield* rows("SELECT sum(v)::INT AS s FROM silver.a")
      assert.deepStrictEqual(result, [{ s: 6 }])
    }).pipe(Effect.provide(engine(project)), Effect.ensuring(Effect.sync(project.remove)))
  })
})
