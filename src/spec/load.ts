/**
 * Reads pipeline files through the platform FileSystem and parses them; all problems of all files
 * at once. With a cache (cache.ts), files unchanged since the last run are not parsed again.
 */
import { Effect, FileSystem, Option, Result } from "effect"
import { cached, keep, type SpecCache } from "./cache.ts"
import { type ParsedPipeline, parsePipeline } from "./parse.ts"
import { type Problem, SpecError } from "./SpecError.ts"
import { type Environment, expandPipelinePaths } from "./variables.ts"

/** Parses the files (or takes them from `cache`), then fills in `${VAR}`s of their paths from `environment`. */
export const loadPipelines = Effect.fn("spec.load")(function* (files: ReadonlyArray<string>, cache?: SpecCache, environment: Environment = {}) {
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
    let found: ParsedPipeline
    if (Option.isSome(hit)) {
      found = hit.value
    } else {
      const result = parsePipeline(file, text.success)
      if (Result.isFailure(result)) {
        problems.push(...result.failure.problems)
        continue
      }
      found = result.success
      // The cache keeps the file as written; the environment is applied on every load.
      if (cache !== undefined) yield* keep(cache, found, text.success)
    }
    const expanded = expandPipelinePaths(found, environment)
    if (Result.isFailure(expanded)) problems.push(...expanded.failure)
    else parsed.push(expanded.success)
  }
  if (problems.length > 0) return yield* new SpecError({ problems })
  return parsed
})
