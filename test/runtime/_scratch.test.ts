import { it } from "@effect/vitest"
import { Effect } from "effect"
import { engine, makeProject, planOf, rows, runPlan } from "../support/project.ts"

it.effect("scratch", () => {
  const project = makeProject({
    "data/p.csv": "id,name,email,city,amount,ts\n1,  Alice  ,ALICE@X.com,Paris,10.5,2024-01-01 10:15:00\n2,Bob,bob@x.com,,20,2024-01-01 11:30:00\n2,Bob2,bob2@x.com,Rome,25,2024-01-02 11:30:00\n3,Carol,,Rome,abc,2024-01-02 09:00:00\n4,Dan,dan@x.com,Oslo,5,bad\n",
    "data/bad.csv": "a,b\n1,2\n3,4,5\n6,7\n8\n"
  })
  const plan = planOf(`
version: 1
pipeline: p
sources:
  p: { format: csv, path: data/p.csv }
  bad: { format: csv, path: data/bad.csv }
bronze: { p: { from: p }, bad: { from: bad } }
silver:
  a:
    from: bronze.p
    transforms:
      - cast: { columns: { amount: double }, on_error: fail }
`)
  return Effect.gen(function*() {
    const report = yield* runPlan(project, plan)
    console.log(JSON.stringify(report, null, 1))
    console.log(yield* rows("SELECT * FROM bronze.p"))
    console.log(yield* rows("SELECT * FROM bronze.bad__rejects"))
    console.log(yield* rows("SELECT * FROM bronze.bad"))
  }).pipe(Effect.provide(engine(project)), Effect.ensuring(Effect.sync(project.remove)))
})
