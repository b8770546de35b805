/** `medallion schema`: the JSON Schema of the pipeline language, for editors. */
import { Console, Effect, FileSystem, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { pipelineJsonSchema } from "../../spec/jsonSchema.ts"

export const schema = Command.make(
  "schema",
  {
    out: Flag.String("out").pipe(Flag.withDescription("Write to this file instead of standard output"), Flag.optional)
  },
  ({ out }) =>
    Effect.gen(function* () {
      const text = `${JSON.stringify(pipelineJsonSchema(), null, 2)}\n`
      if (Option.isNone(out)) return yield* Console.log(text.trimEnd())
      const fs = yield* FileSystem.FileSystem
      yield* fs.writeFileString(out.value, text)
      yield* Console.log(`wrote ${out.value}`)
    })
).pipe(Command.withDescription("Print the JSON Schema of pipeline files (for editor autocompletion)"))
