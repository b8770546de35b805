/**
 * What every command needs from its surroundings: the project directory, the settings for the
 * chosen environment, the plan of the given files and the executor layers. Commands stay thin.
 */
import { Data, Effect, FileSystem, Layer, Path, Result } from "effect"
import { Flag } from "effect/cli"
import * as CircuitBreaker from "../executor/CircuitBreaker.ts"
import * as DuckDbExecutor from "../executor/DuckDbExecutor.ts"
import * as SqlMetadataStore from "../metadata/SqlMetadataStore.ts"
import { buildPlan } from "../plan/Plan.ts"
import { loadPipelines } from "../spec/load.ts"
import { loadSettings, type Settings } from "../settings/Settings.ts"
import { SpecError } from "../spec/SpecError.ts"

/** A failure the command has already shown (e.g. as JSON); only its exit code is left to set. */
export class AlreadyReported extends Data.TaggedError("AlreadyReported")<{ readonly exitCode: number }> {}

export const envFlag = Flag.String("env").pipe(
  Flag.withDescription("Environment: overlays config/<env>.yaml on config/default.yaml (default: MEDALLION_ENV)"),
  Flag.optional
)
export const jsonFlag = Flag.Boolean("json").pipe(Flag.withDescription("Print one JSON document for scripts"), Flag.withDefault(false))

const environment = (): Readonly<Record<string, string | undefined>> => globalThis.process?.env ?? {}

export const projectDir = Effect.gen(function*() {
  const path = yield* Path.Path
  return path.resolve(".")
})

export const settingsFor = (env: string | undefined) =>
  Effect.gen(function*() {
    return yield* loadSettings({ projectDir: yield* projectDir, env, environment: environment() })
  })

/** The files to work on: those given (globs expanded here too, for shells that do not), or pipelines/*.yaml. */
export const pipelineFiles = (files: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const root = yield* projectDir
    const expand = (pattern: string) => fs.glob(pattern, { root }).pipe(Effect.map((found) => found.toSorted()), Effect.orElseSucceed(() => []))
    if (files.length === 0) return yield* expand("pipelines/*.{yaml,yml}")
    const expanded = yield* Effect.forEach(files, (file) => /[*?[{]/.test(file) ? expand(file) : Effect.succeed([file]))
    return expanded.flat()
  })

export const planFor = (files: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const parsed = yield* loadPipelines(yield* pipelineFiles(files))
    const plan = buildPlan(parsed)
    return Result.isFailure(plan) ? yield* plan.failure : plan.success
  })

export const engineLayer = (settings: Settings) =>
  Layer.unwrap(Effect.gen(function*() {
    if (settings.engine !== "duckdb") {
      return yield* new SpecError({
        problems: [{ file: `config/${settings.env}.yaml`, line: 1, column: 1, message: `engine ${settings.engine} is not available in this version; use engine: duckdb` }]
      })
    }
    // After 5 transient failures in a row the engine is likely down: fail the rest fast, try again in 30 s.
    const executor = CircuitBreaker.layer({ failureThreshold: 5, cooldown: "30 seconds" }).pipe(
      Layer.provide(DuckDbExecutor.layer({ path: settings.duckdb.path, threads: settings.duckdb.threads, memoryLimit: settings.duckdb.memoryLimit }))
    )
    return Layer.provideMerge(SqlMetadataStore.layer, executor)
  }))
