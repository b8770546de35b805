/** `medallion validate [files]`: parse, schema, references and cycles, without touching data. */
import { Console, Effect } from "effect"
import { Argument, Command } from "effect/cli"
import type { SpecError } from "../../spec/SpecError.ts"
import { AlreadyReported, jsonFlag, planFor } from "../context.ts"

export const validate = Command.make("validate", {
  files: Argument.String("files").pipe(Argument.withDescription("Pipeline files (default: pipelines/*.yaml)"), Argument.variadic()),
  json: jsonFlag
}, ({ files, json }) =>
  Effect.gen(function*() {
    const plan = yield* planFor(files).pipe(
      Effect.catchTag("SpecError", (error): Effect.Effect<never, SpecError | AlreadyReported> =>
        json
          ? Console.log(JSON.stringify({ valid: false, problems: error.problems }, null, 2)).pipe(
            Effect.andThen(Effect.fail(new AlreadyReported({ exitCode: 2 })))
          )
          : Effect.fail(error))
    )
    const tables = plan.order.map((id) => {
      const node = plan.nodes.get(id)!
      return { table: id, pipeline: node.pipeline, mode: node.mode, depends_on: node.dependsOn }
    })
    if (json) return yield* Console.log(JSON.stringify({ valid: true, pipelines: plan.pipelines.map((p) => p.pipeline), tables }, null, 2))
    yield* Console.log(`ok: ${plan.pipelines.length} pipeline(s), ${tables.length} table(s)`)
    for (const t of tables) yield* Console.log(`  ${t.table.padEnd(32)} ${t.mode.padEnd(8)} ${t.depends_on.length > 0 ? `<- ${t.depends_on.join(", ")}` : ""}`)
  })).pipe(Command.withDescription("Check pipeline files: YAML, schema, references, cycles"))
