/**
 * What every command needs from its surroundings: the project directory, the settings for the
 * chosen environment, the plan of the given files and the executor layers. Commands stay thin.
 */
import { Data, Duration, Effect, FileSystem, Layer, Path, Result, Schema } from "effect"
import { Flag } from "effect/cli"
import * as CircuitBreaker from "../executor/CircuitBreaker.ts"
import type { DatabricksOptions } from "../executor/DatabricksExecutor.ts"
import * as DuckDbExecutor from "../executor/DuckDbExecutor.ts"
import type { Executor } from "../executor/Executor.ts"
import * as RemoteExecutor from "../executor/RemoteExecutor.ts"
import type { MetadataStore } from "../metadata/MetadataStore.ts"
import * as PendingRuns from "../metadata/PendingRuns.ts"
import * as SqlMetadataStore from "../metadata/SqlMetadataStore.ts"
import { buildPlan } from "../plan/Plan.ts"
import { hasGlobSyntax } from "../runtime/files.ts"
import { heldBy, isBusy } from "../runtime/Lock.ts"
import { currentBuild, type SpecCache } from "../spec/cache.ts"
import { loadPipelines } from "../spec/load.ts"
import { loadSettings, type Settings } from "../settings/Settings.ts"
import { SpecError } from "../spec/SpecError.ts"

/** A failure the command has already shown (e.g. as JSON); only its exit code is left to set. */
export class AlreadyReported extends Data.TaggedError("AlreadyReported")<{ readonly exitCode: number }> {}

/** A command given something that does not exist or cannot work (an unknown run id): exit code 2. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { reason: Schema.String }) {
  override get message(): string {
    return this.reason
  }
}

export const envFlag = Flag.String("env").pipe(Flag.withDescription("Environment: overlays config/<env>.yaml on config/default.yaml (default: MEDALLION_ENV)"), Flag.optional)
/** `--limit N`: how many runs or rows to show, a whole number from 1. */
export const limitFlag = (what: string) =>
  Flag.Int("limit").pipe(
    Flag.withDescription(`How many ${what} (a whole number from 1; default 20)`),
    Flag.filter(
      (n) => n >= 1,
      () => `how many ${what} to show, a whole number from 1 up`
    ),
    Flag.withDefault(20)
  )
export const jsonFlag = Flag.Boolean("json").pipe(Flag.withDescription("Print one JSON document for scripts"), Flag.withDefault(false))

const environment = (): Readonly<Record<string, string | undefined>> => globalThis.process?.env ?? {}

export const projectDir = Effect.gen(function* () {
  const path = yield* Path.Path
  return path.resolve(".")
})

export const settingsFor = (env: string | undefined) =>
  Effect.gen(function* () {
    return yield* loadSettings({ projectDir: yield* projectDir, env, environment: environment() })
  })

/** The files to work on: those given (globs expanded here too, for shells that do not), or pipelines/*.yaml. */
const pipelineFiles = (files: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const root = yield* projectDir
    const expand = (pattern: string) =>
      fs.glob(pattern, { root }).pipe(
        Effect.map((found) => found.toSorted()),
        Effect.orElseSucceed(() => [])
      )
    if (files.length === 0) return yield* expand("pipelines/*.{yaml,yml}")
    const expanded = yield* Effect.forEach(files, (file) => (hasGlobSyntax(file) ? expand(file) : Effect.succeed([file])))
    return expanded.flat()
  })

/** The given files, parsed, and their plan; with `cache`, files unchanged since the last run are not parsed again. */
export const loadPlan = (files: ReadonlyArray<string>, cache?: SpecCache) =>
  Effect.gen(function* () {
    const parsed = yield* loadPipelines(yield* pipelineFiles(files), cache, environment())
    const plan = buildPlan(parsed)
    return { parsed, plan: Result.isFailure(plan) ? yield* plan.failure : plan.success }
  })

/** The plan of the given files; with `cache`, files unchanged since the last run are not parsed again. */
export const planFor = (files: ReadonlyArray<string>, cache?: SpecCache) => Effect.map(loadPlan(files, cache), ({ plan }) => plan)

/**
 * How to reach the Databricks warehouse of these settings; a SpecError naming what is missing
 * (host, warehouse, credentials) and where to set it.
 */
export const databricksOptions = (settings: Settings): Result.Result<DatabricksOptions, SpecError> => {
  const d = settings.databricks
  const file = settings.env === "default" ? "config/default.yaml" : `config/${settings.env}.yaml`
  const missing = [
    ...(d.host === undefined ? ["databricks.host (or DATABRICKS_HOST)"] : []),
    ...(d.warehouseId === undefined ? ["databricks.warehouse_id (or DATABRICKS_WAREHOUSE_ID)"] : []),
    ...(d.token === undefined && (d.clientId === undefined || d.clientSecret === undefined)
      ? ["databricks.token (or DATABRICKS_TOKEN), or databricks.client_id and client_secret (or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET)"]
      : [])
  ]
  if (d.host === undefined || d.warehouseId === undefined || missing.length > 0) {
    return Result.fail(
      new SpecError({
        problems: [{ file, line: 1, column: 1, message: `engine: databricks needs ${missing.join("; ")}` }]
      })
    )
  }
  return Result.succeed({
    host: d.host,
    warehouseId: d.warehouseId,
    auth: d.token !== undefined ? { _tag: "Token", token: d.token } : { _tag: "OAuth", clientId: d.clientId!, clientSecret: d.clientSecret! },
    catalog: d.catalog,
    schemaPrefix: d.schemaPrefix,
    waitTimeout: Duration.seconds(Number.parseInt(d.waitTimeout, 10))
  })
}

/** Where a built CLI keeps decoded pipeline files between runs (none when running the sources). */
export const specCache = (settings: Settings): SpecCache | undefined => (currentBuild === undefined ? undefined : { dir: `${settings.storage}/cache`, build: currentBuild })

/**
 * The engine and the metadata store. `deferNoOpRuns` (apply): a run that finds every table
 * unchanged leaves a DuckDB warehouse file as it was (PendingRuns.ts). `serveReads` (apply,
 * serve: the commands that hold the warehouse): other processes read it through this one
 * (ReadEndpoint.ts) while it is open.
 */
export const engineLayer = (settings: Settings, options: { readonly deferNoOpRuns?: boolean; readonly serveReads?: boolean } = {}) =>
  Layer.unwrap(
    Effect.gen(function* () {
      if (settings.engine === "databricks") {
        const options = databricksOptions(settings)
        if (Result.isFailure(options)) return yield* options.failure
        // Loaded only when used, like tracing: DuckDB runs never load the HTTP client.
        const DatabricksExecutor = yield* Effect.promise(() => import("../executor/DatabricksExecutor.ts"))
        const executor = CircuitBreaker.layer({ failureThreshold: 5, cooldown: "30 seconds" }).pipe(Layer.provide(DatabricksExecutor.layerFetch(options.success)))
        return Layer.provideMerge(SqlMetadataStore.layer, executor)
      }
      // After 5 transient failures in a row the engine is likely down: fail the rest fast, try again in 30 s.
      const executor = CircuitBreaker.layer({ failureThreshold: 5, cooldown: "30 seconds" }).pipe(
        Layer.provide(DuckDbExecutor.layer({ path: settings.duckdb.path, threads: settings.duckdb.threads, memoryLimit: settings.duckdb.memoryLimit }))
      )
      const path = settings.duckdb.path
      const pendingRuns = path === ":memory:" ? undefined : yield* PendingRuns.make(path)
      const engine = Layer.provideMerge(SqlMetadataStore.layerWith({ migrate: true, pendingRuns, deferNoOpRuns: options.deferNoOpRuns }), executor)
      if (options.serveReads !== true || path === ":memory:") return engine
      // Loaded only by the commands that hold the warehouse: node:http stays out of the others' start-up.
      const ReadEndpoint = yield* Effect.promise(() => import("../executor/ReadEndpoint.ts"))
      return Layer.provideMerge(ReadEndpoint.layer(path), engine)
    })
  )

/**
 * Gives a command that only reads (runs, show, plan) the warehouse: `local` opens it when no other
 * process has it open; otherwise the process holding it answers the reads (ReadEndpoint.ts), so a
 * reader is never locked out by an apply or a server. A holder that serves no reads (one that
 * crashed, or an older version) is named, as the lock file says.
 */
export const readingWarehouse =
  <E1, R1>(settings: Settings, local: Layer.Layer<Executor | MetadataStore, E1, R1>) =>
  <A, E, R>(body: Effect.Effect<A, E, R>) =>
    body.pipe(
      Effect.provide(local),
      Effect.catchIf(isBusy, () =>
        Effect.gen(function* () {
          const database = settings.duckdb.path
          const held = yield* heldBy(database)
          const endpoint = yield* RemoteExecutor.find(database)
          if (endpoint._tag === "None" || (held.holder !== undefined && held.holder.pid !== endpoint.value.pid)) return yield* held
          const pendingRuns = yield* PendingRuns.make(database)
          const remote = Layer.provideMerge(SqlMetadataStore.layerWith({ migrate: false, pendingRuns, deferNoOpRuns: true }), RemoteExecutor.layer(endpoint.value))
          // The holder may have ended meanwhile: then the file is free again.
          return yield* body.pipe(
            Effect.provide(remote),
            Effect.catchIf(
              (e) => e instanceof Error && "isRetryable" in e && e.isRetryable === true && /did not answer/.test(e.message),
              () =>
                body.pipe(
                  Effect.provide(local),
                  Effect.catchIf(isBusy, () => Effect.fail(held))
                )
            )
          )
        })
      )
    )
