/**
 * Runtime settings: config/default.yaml, overlaid by config/<env>.yaml (env from --env or
 * MEDALLION_ENV), with `${VAR}` / `${VAR:-default}` taken from the environment, and any key
 * overridable as MEDALLION_<SECTION>__<KEY> (e.g. MEDALLION_DUCKDB__THREADS=4).
 * The interpolation and merge are pure; loadSettings does the reading.
 */
import { Effect, FileSystem, Path, Redacted, Result, Schema } from "effect"
import * as Secrets from "../secrets/Secrets.ts"
import { decodeYaml, describeIssues, yamlValue, type YamlPath } from "../spec/parse.ts"
import { type Problem, SpecError } from "../spec/SpecError.ts"
import { expandVariables, missingVariable } from "../spec/variables.ts"

/**
 * A secret: text in the config file, held as Redacted once decoded (it prints as <redacted>), and
 * registered with Secrets when the settings are loaded, so that no output shows it.
 */
const Secret = <S extends Schema.String>(text: S) => Schema.RedactedFromValue(text)

/** HS256 needs a key at least as long as its hash output (RFC 7518, section 3.2): 32 bytes. */
const minimumJwtSecretBytes = 32

const JwtSecret = Secret(
  Schema.String.check(
    Schema.makeFilter((text: string) => {
      const bytes = new TextEncoder().encode(text).length
      // Empty turns HS256 tokens off (the default: `${MEDALLION_JWT_SECRET:-}`). The message never shows the value.
      return (
        bytes === 0 ||
        bytes >= minimumJwtSecretBytes ||
        `too short for HS256: ${bytes} bytes, at least ${minimumJwtSecretBytes} are needed; generate one with \`openssl rand -hex 32\` (or leave it empty to accept no HS256 tokens)`
      )
    })
  )
)

export const SettingsSchema = Schema.Struct({
  engine: Schema.optionalKey(Schema.Literals(["duckdb", "databricks"])),
  storage: Schema.optionalKey(Schema.String),
  concurrency: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 64 }))),
  duckdb: Schema.optionalKey(
    Schema.Struct({
      path: Schema.optionalKey(Schema.String),
      threads: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))),
      memory_limit: Schema.optionalKey(
        Schema.String.check(
          Schema.isPattern(/^\d+(\.\d+)?\s*(b|bytes|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)$/i, {
            message: "not a size: write a number and a unit, e.g. 4GB or 512MiB"
          })
        )
      )
    })
  ),
  databricks: Schema.optionalKey(
    Schema.Struct({
      host: Schema.optionalKey(Schema.String),
      token: Schema.optionalKey(Secret(Schema.String)),
      client_id: Schema.optionalKey(Schema.String),
      client_secret: Schema.optionalKey(Secret(Schema.String)),
      warehouse_id: Schema.optionalKey(Schema.String),
      catalog: Schema.optionalKey(Schema.String),
      /** Prepended to the schema names: shop_ gives shop_bronze, shop_silver, shop_gold, shop__medallion. */
      schema_prefix: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_]*$/))),
      /** How long a statement submit waits before continuing asynchronously: 0s or 5s..50s. */
      wait_timeout: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^(0|[5-9]|[1-4][0-9]|50)s$/)))
    })
  ),
  telemetry: Schema.optionalKey(Schema.Struct({ traces: Schema.optionalKey(Schema.Literals(["auto", "otlp", "off"])) })),
  api: Schema.optionalKey(
    Schema.Struct({
      host: Schema.optionalKey(Schema.String),
      port: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 }))),
      auth: Schema.optionalKey(
        Schema.Struct({
          jwt_secret: Schema.optionalKey(JwtSecret),
          jwks_url: Schema.optionalKey(Schema.String),
          issuer: Schema.optionalKey(Schema.String),
          audience: Schema.optionalKey(Schema.String),
          api_keys: Schema.optionalKey(
            Schema.Array(
              Schema.Struct({
                name: Schema.NonEmptyString,
                key: Secret(Schema.String),
                scopes: Schema.Array(Schema.Literals(["read", "run"]))
              })
            )
          )
        })
      ),
      // `medallion serve`: page size cap, request body cap, CORS, shutdown grace, access log, docs.
      max_limit: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000 }))),
      max_body_bytes: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_485_760 }))),
      cors: Schema.optionalKey(
        Schema.Struct({
          origins: Schema.Array(Schema.String),
          credentials: Schema.optionalKey(Schema.Boolean)
        })
      ),
      shutdown_grace: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^\d+(\.\d+)?\s*(ms|s|m|h|millis|seconds?|minutes?|hours?)$/))),
      access_log: Schema.optionalKey(Schema.Boolean),
      public_docs: Schema.optionalKey(Schema.Boolean)
    })
  ),
  log_level: Schema.optionalKey(Schema.Literals(["debug", "info", "warn", "error"]))
})
export type SettingsFile = typeof SettingsSchema.Type

/** Settings with defaults applied and paths made absolute. */
export interface Settings {
  readonly env: string
  readonly projectDir: string
  readonly engine: "duckdb" | "databricks"
  readonly storage: string
  readonly concurrency: number
  readonly duckdb: { readonly path: string; readonly threads: number | undefined; readonly memoryLimit: string | undefined }
  readonly databricks: DatabricksSettings
  /** OTLP export of traces, metrics and logs: auto (when an OTEL endpoint is set), otlp (always) or off. */
  readonly telemetry: "auto" | "otlp" | "off"
  readonly logLevel: "debug" | "info" | "warn" | "error"
  readonly file: SettingsFile
}

/**
 * Where and how to reach a Databricks SQL warehouse. Unset keys fall back to the environment
 * variables the Databricks tools use (DATABRICKS_HOST, DATABRICKS_WAREHOUSE_ID, DATABRICKS_TOKEN,
 * DATABRICKS_CLIENT_ID, DATABRICKS_CLIENT_SECRET); secrets are Redacted.
 */
export interface DatabricksSettings {
  readonly host: string | undefined
  readonly warehouseId: string | undefined
  readonly token: Redacted.Redacted<string> | undefined
  readonly clientId: string | undefined
  readonly clientSecret: Redacted.Redacted<string> | undefined
  readonly catalog: string
  readonly schemaPrefix: string
  readonly waitTimeout: string
}

const databricksSettings = (file: SettingsFile, env: Readonly<Record<string, string | undefined>>): DatabricksSettings => {
  const pick = (value: string | undefined, variable: string) => {
    const found = value ?? env[variable]
    return found === undefined || found === "" ? undefined : found
  }
  const secret = (value: Redacted.Redacted<string> | undefined, variable: string) => {
    const found = pick(value === undefined ? undefined : Redacted.value(value), variable)
    return found === undefined ? undefined : Redacted.make(found)
  }
  const d = file.databricks
  return {
    host: pick(d?.host, "DATABRICKS_HOST"),
    warehouseId: pick(d?.warehouse_id, "DATABRICKS_WAREHOUSE_ID"),
    token: secret(d?.token, "DATABRICKS_TOKEN"),
    clientId: pick(d?.client_id, "DATABRICKS_CLIENT_ID"),
    clientSecret: secret(d?.client_secret, "DATABRICKS_CLIENT_SECRET"),
    catalog: d?.catalog ?? "main",
    schemaPrefix: d?.schema_prefix ?? "",
    waitTimeout: d?.wait_timeout ?? "10s"
  }
}

const wholeVariable = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/

/** Replaces `${VAR}` and `${VAR:-default}` in every string of a YAML value. Pure. */
export const interpolate = (
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  problemAt: (path: YamlPath, message: string) => Problem,
  path: YamlPath = []
): Result.Result<unknown, ReadonlyArray<Problem>> => {
  if (typeof value === "string") {
    const { value: replaced, missing } = expandVariables(value, env)
    if (missing.length > 0) return Result.fail(missing.map((name) => problemAt(path, missingVariable(name))))
    // A value that is one whole ${VAR} takes the variable's YAML type: threads: ${THREADS:-2} is a number.
    return Result.succeed(wholeVariable.test(value) && replaced !== "" ? yamlValue(replaced) : replaced)
  }
  if (Array.isArray(value) || (value !== null && typeof value === "object")) {
    const entries = Object.entries(value)
    const problems: Array<Problem> = []
    const out: Record<string, unknown> = {}
    for (const [key, inner] of entries) {
      const r = interpolate(inner, env, problemAt, [...path, Array.isArray(value) ? Number(key) : key])
      if (Result.isFailure(r)) problems.push(...r.failure)
      else out[key] = r.success
    }
    if (problems.length > 0) return Result.fail(problems)
    return Result.succeed(Array.isArray(value) ? Object.values(out) : out)
  }
  return Result.succeed(value)
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v)

/** Deep merge: objects merge key by key, everything else in `over` wins. Pure. */
export const merge = (base: unknown, over: unknown): unknown => {
  if (!isObject(base) || !isObject(over)) return over === undefined ? base : over
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v)
  return out
}

const sections = new Set(Object.keys(SettingsSchema.fields))

/**
 * MEDALLION_DUCKDB__THREADS=4 -> { duckdb: { threads: 4 } }, values read as YAML scalars.
 * Variables whose first part names no setting (MEDALLION_HOME) are not settings and are ignored,
 * unless they use `__`, which only settings do.
 */
export const envOverrides = (env: Readonly<Record<string, string | undefined>>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith("MEDALLION_") || raw === undefined) continue
    const keys = name.slice("MEDALLION_".length).toLowerCase().split("__")
    if (!sections.has(keys[0]!) && keys.length === 1) continue
    let target = out
    for (const k of keys.slice(0, -1)) {
      target[k] ??= {}
      target = target[k] as Record<string, unknown>
    }
    target[keys[keys.length - 1]!] = yamlValue(raw)
  }
  return out
}

const overrideProblems = (overrides: Record<string, unknown>): ReadonlyArray<Problem> => {
  const decoded = Schema.decodeUnknownResult(SettingsSchema)(overrides, { errors: "all", onExcessProperty: "error" })
  if (Result.isSuccess(decoded)) return []
  return describeIssues(decoded.failure.issue, overrides).map(({ path, message }) => ({
    file: "environment",
    line: 1,
    column: 1,
    message: `MEDALLION_${path.map(String).join("__").toUpperCase()}: ${message}`
  }))
}

export const loadSettings = Effect.fn("settings.load")(function* (options: {
  readonly projectDir: string
  readonly env: string | undefined
  readonly environment: Readonly<Record<string, string | undefined>>
}) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const envName = options.env ?? options.environment["MEDALLION_ENV"] ?? undefined
  const files = ["default", ...(envName === undefined ? [] : [envName])].map((name) => ({
    name,
    file: path.join("config", `${name}.yaml`)
  }))
  let merged: unknown = {}
  for (const { name, file } of files) {
    const absolute = path.join(options.projectDir, file)
    const exists = yield* fs.exists(absolute).pipe(Effect.orElseSucceed(() => false))
    if (!exists) {
      if (name === "default") continue
      return yield* new SpecError({ problems: [{ file, line: 1, column: 1, message: `environment "${name}" has no config file; create ${file} or pick another --env` }] })
    }
    const text = yield* fs.readFileString(absolute).pipe(Effect.mapError((e) => new SpecError({ problems: [{ file, line: 1, column: 1, message: `cannot read: ${e.message}` }] })))
    // Each file is decoded for its own located problems; what is merged is its text after
    // interpolation (secrets decode to Redacted, which is not text to decode again).
    let interpolated: unknown = {}
    const decoded = decodeYaml(SettingsSchema, file, text, (input, problemAt) => Result.map(interpolate(input, options.environment, problemAt), (value) => (interpolated = value)))
    if (Result.isFailure(decoded)) return yield* decoded.failure
    merged = merge(merged, interpolated)
  }
  const overrides = envOverrides(options.environment)
  const problems = overrideProblems(overrides)
  if (problems.length > 0) return yield* new SpecError({ problems })
  const file = yield* Schema.decodeUnknownEffect(SettingsSchema)(merge(merged, overrides), { onExcessProperty: "error" }).pipe(
    Effect.mapError((e) => new SpecError({ problems: [{ file: "config", line: 1, column: 1, message: e.message }] }))
  )
  const storage = path.resolve(options.projectDir, file.storage ?? ".medallion")
  const settings: Settings = {
    env: envName ?? "default",
    projectDir: options.projectDir,
    engine: file.engine ?? "duckdb",
    storage,
    concurrency: file.concurrency ?? 4,
    duckdb: {
      path: file.duckdb?.path === ":memory:" ? ":memory:" : path.resolve(options.projectDir, file.duckdb?.path ?? path.join(storage, "warehouse.duckdb")),
      threads: file.duckdb?.threads,
      memoryLimit: file.duckdb?.memory_limit
    },
    databricks: databricksSettings(file, options.environment),
    telemetry: file.telemetry?.traces ?? "auto",
    logLevel: file.log_level ?? "info",
    file
  }
  // From here on no output of the process shows them (Secrets.ts).
  Secrets.registerAll(file)
  Secrets.register(settings.databricks.token, settings.databricks.clientSecret)
  return settings
})
