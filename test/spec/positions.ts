/**
 * Helpers for tests of spec errors: where a piece of fixture text is (1-based line and column,
 * as the YAML LineCounter counts them), and the problems of a failed parse or plan.
 */
import { assert } from "@effect/vitest"
import { Result } from "effect"
import { parsePipeline, type ParsedPipeline } from "../../src/spec/parse.ts"
import type { Problem, SpecError } from "../../src/spec/SpecError.ts"

export interface Position {
  readonly line: number
  readonly column: number
}

/** The position of the `nth` (0-based) occurrence of `needle` in `text`; fails when it is absent. */
export const locate = (text: string, needle: string, nth = 0): Position => {
  let offset = -1
  for (let i = 0; i <= nth; i++) {
    offset = text.indexOf(needle, offset + 1)
    if (offset < 0) throw new Error(`fixture has no occurrence ${nth} of ${JSON.stringify(needle)}`)
  }
  const before = text.slice(0, offset)
  const line = before.split("\n").length
  const column = offset - (before.lastIndexOf("\n") + 1) + 1
  return { line, column }
}

/** The problems of a failed result; fails the test when the result is a success. */
export const problemsOf = (result: Result.Result<unknown, SpecError>): ReadonlyArray<Problem> => {
  if (Result.isSuccess(result)) assert.fail("expected a SpecError, got a success")
  assert.strictEqual(result.failure._tag, "SpecError")
  assert.isAbove(result.failure.problems.length, 0, "a SpecError without problems")
  return result.failure.problems
}

/** The only problem of a failed result. */
export const onlyProblem = (result: Result.Result<unknown, SpecError>): Problem => {
  const problems = problemsOf(result)
  assert.strictEqual(problems.length, 1, problems.map((p) => `${p.line}:${p.column}: ${p.message}`).join("\n"))
  return problems[0]!
}

/** Asserts that `problem` is in `file` at `position` and that its message contains every fact. */
export const assertProblem = (problem: Problem, expected: { readonly file: string; readonly at: Position; readonly says: ReadonlyArray<string> }): void => {
  const where = `${problem.file}:${problem.line}:${problem.column}: ${problem.message}`
  assert.strictEqual(problem.file, expected.file, where)
  assert.deepStrictEqual({ line: problem.line, column: problem.column }, expected.at, where)
  for (const fact of expected.says) assert.include(problem.message, fact, where)
}

/** Parses a fixture that must be valid; fails the test with the problems otherwise. */
export const parsed = (file: string, text: string): ParsedPipeline => {
  const result = parsePipeline(file, text)
  if (Result.isFailure(result)) assert.fail(`fixture ${file} does not parse:\n${result.failure.message}`)
  return result.success
}
