/**
 * Reads pipeline files through the platform FileSystem and parses them; all problems of all files
 * at once. With a cache (cache.ts), files unchanged since the last run are not parsed again.
 */
import { Effect, FileSystem, Option, Result } from "effect"
import { cached, keep, type SpecCache } from "./cache.ts"
import { type ParsedPipeline, parsePipeline } from "./parse.ts"
import { type Problem, SpecError } from "./SpecError.ts"

export const loadPipelines = Effect.fn("spec.load")(function*(files: ReadonlyArray<string>, cache?: SpecCache) {
  const fs = yield* FileSystem.FileSystem
  const problems: Array<Problem> = []
  const parsed: Array<ParsedPipeline> = []
  if (files.length === 0) {
    return yield* new SpecError({ problems: [{ file: "pipelines/", line: 1, column: 1, message: "no pipeline files given or found; pass files such as pipelines/*.yaml" }] })
  }
  for (const file of files) {
    const text = yield* fs.readFileString(file).pipe(Effect.result)
    if (Result.isFailure(text)) {
      problems.push({ file, line: 1, column: 1, message: `cannot read the file: ${text.failure.message}` })
      continue
    }
    const hit = cache === undefined ? Option.none() : yield* cached(cache, file, text.success)
    if (Option.isSome(hit)) {
      parsed.push(hit.value)
      continue
    }
    const result = parsePipeline(file, text.success)
    if (Result.isFailure(result)) problems.push(...result.failure.problems)
    else {
      parsed.push(result.success)
      if (cache !== undefined) yield* keep(cache, result.success, text.success)
    }
  }
  if (problems.length > 0) return yield* new SpecError({ problems })
  return parsed
})
