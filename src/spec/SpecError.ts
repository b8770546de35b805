/**
 * Errors in what the user wrote: YAML syntax, schema, references, cycles. Each problem names the
 * file, line and column and says what to do; the CLI prints them as `file:line:col: message`.
 */
import { Schema } from "effect"

export const Problem = Schema.Struct({
  file: Schema.String,
  line: Schema.Number,
  column: Schema.Number,
  message: Schema.String
})
export type Problem = typeof Problem.Type

export const formatProblem = (p: Problem): string => `${p.file}:${p.line}:${p.column}: ${p.message}`

export class SpecError extends Schema.TaggedError<SpecError>()("SpecError", {
  problems: Schema.Array(Problem)
}) {
  override get message(): string {
    return this.problems.map(formatProblem).join("\n")
  }
}
