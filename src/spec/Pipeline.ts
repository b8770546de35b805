/**
 * The pipeline language: one Effect Schema that decodes YAML, drives `medallion validate` and is
 * published as JSON Schema for editors. Pure data, no I/O. Defaults are applied by the planner,
 * not here, so the JSON Schema shows exactly what a user may write.
 */
import { Schema } from "effect"

const described = <S extends Schema.Top>(schema: S, description: string): S["Rebuild"] => schema.annotate({ description })

/** A column name or SQL identifier as the user wrote it. */
const Column = Schema.NonEmptyString
const Columns = Schema.NonEmptyArray(Column)
/** Column names as record keys: plain strings, so the JSON Schema keeps the value type. */
const ColumnKey = Schema.String
/** A SQL expression in the portable subset both dialects accept. */
const Expression = Schema.NonEmptyString
/** `layer.table`, e.g. `silver.orders`. */
const TableRef = described(Schema.String.check(Schema.isPattern(/^(bronze|silver|gold)\.[A-Za-z_][A-Za-z0-9_]*$/)), "A table reference: layer.table (bronze, silver or gold)")
const Scalar = Schema.Union([Schema.String, Schema.Number, Schema.Boolean])
const Duration = described(Schema.String.check(Schema.isPattern(/^\d+\s*(ms|s|m|h|d|millis|seconds?|minutes?|hours?|days?)$/)), "A duration such as 500ms, 5s, 2m, 1h")

export const OnFail = described(
  Schema.Literals(["warn", "drop", "quarantine", "fail"]),
  "What happens to rows that fail: warn keeps them, drop removes them, quarantine moves them to <table>__quarantine, fail stops the table"
)
export type OnFail = typeof OnFail.Type

// ---------------------------------------------------------------------------------------------
// Sources

export const SourceFormat = Schema.Literals(["csv", "json", "ndjson", "parquet"])
export type SourceFormat = typeof SourceFormat.Type

export const Source = Schema.Struct({
  format: SourceFormat,
  path: described(Schema.NonEmptyString, "A file path or glob relative to the project directory"),
  incremental: described(Schema.optionalKey(Schema.Boolean), "Ingest only files not ingested before (by content); its bronze table defaults to mode: append"),
  on_change: described(
    Schema.optionalKey(Schema.Literals(["fail", "ingest", "skip"])),
    "Incremental sources: what to do when an ingested file changes (same path, new content): fail (default), ingest the new version as a new batch, or skip it"
  ),
  description: Schema.optionalKey(Schema.String),
  options: Schema.optionalKey(
    Schema.Struct({
      delimiter: Schema.optionalKey(Schema.String),
      header: Schema.optionalKey(Schema.Boolean),
      quote: Schema.optionalKey(Schema.String),
      escape: Schema.optionalKey(Schema.String),
      infer_types: described(Schema.optionalKey(Schema.Boolean), "CSV only: let the engine infer column types. Off by default: bronze keeps every value as text, silver casts"),
      max_line_bytes: described(
        Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1_000, maximum: 1_000_000_000 }))),
        "CSV only: the longest line kept, in bytes (default 2000000); a longer line goes to the rejects whole"
      )
    })
  )
})
export type Source = typeof Source.Type

// ---------------------------------------------------------------------------------------------
// Transforms: each step is a one-key object, `- dedupe: {...}`

const CastMap = Schema.Record(ColumnKey, Schema.NonEmptyString)
const CastOnError = Schema.Literals(["null", "quarantine", "fail"])
export const JoinUnmatched = Schema.Literals(["keep", "drop", "quarantine"])
export type JoinUnmatched = typeof JoinUnmatched.Type

const Steps = {
  select: described(Columns, "Keep these columns or expressions (`expr as name`), in this order"),
  drop: described(Columns, "Remove these columns"),
  rename: described(Schema.Record(ColumnKey, Column), "Rename columns: { old: new }"),
  cast: described(
    Schema.Union([Schema.Struct({ columns: CastMap, on_error: Schema.optionalKey(CastOnError) }), CastMap]),
    "Change column types: { col: type } or { columns: { col: type }, on_error: null|quarantine|fail } (default fail)"
  ),
  trim: described(Columns, "Trim whitespace from these text columns"),
  lowercase: described(Columns, "Lower-case these text columns"),
  uppercase: described(Columns, "Upper-case these text columns"),
  fill_nulls: described(Schema.Record(ColumnKey, Scalar), "Replace nulls: { col: value }"),
  drop_nulls: described(Columns, "Drop rows where any of these columns is null (counted as dropped)"),
  dedupe: described(
    Schema.Struct({
      keys: Columns,
      order_by: Schema.optionalKey(Schema.Union([Expression, Schema.NonEmptyArray(Expression)])),
      keep: Schema.optionalKey(Schema.Literals(["first", "last"]))
    }),
    "Keep one row per key: the first (or last) by order_by; the rest are counted as duplicates"
  ),
  filter: described(Expression, "Keep rows for which this SQL predicate is true (others are counted as dropped)"),
  derive: described(Schema.Record(ColumnKey, Expression), "Add or replace columns: { name: expression }, in order"),
  mask: described(
    Schema.Record(ColumnKey, Schema.Literals(["hash", "redact", "partial", "null"])),
    "Mask PII: hash (sha256), redact (fixed text), partial (keep the last 4 characters), null"
  ),
  join: described(
    Schema.Struct({
      to: TableRef,
      on: Schema.Union([Columns, Expression]),
      how: described(Schema.optionalKey(Schema.Literals(["left", "inner"])), "The older spelling of on_unmatched: left is keep, inner is drop"),
      on_unmatched: described(
        Schema.optionalKey(JoinUnmatched),
        "A row whose key has no match in `to`: keep it (default; the joined columns are NULL), drop it (counted as dropped) or quarantine it (moved to <table>__quarantine, the join named in _expectations)"
      ),
      columns: described(
        Schema.optionalKey(Schema.Union([Schema.Array(Column), Schema.Record(ColumnKey, Column)])),
        "The columns of `to` to bring in: a list ([city]), or new names for them ({ origin_city: city }); default all but the `on` keys"
      ),
      name: described(Schema.optionalKey(Schema.NonEmptyString), "What the rows it drops or quarantines are counted under (default: join(<to> on <on>))")
    }),
    "Join another table: on a list of shared key columns, or on an expression over `l` and `r`"
  ),
  top: described(
    Schema.Struct({
      n: described(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)), "How many rows to keep (per group of `by`)"),
      order_by: described(Schema.Union([Expression, Schema.NonEmptyArray(Expression)]), 'What comes first, e.g. "total desc" or [total desc, name]'),
      by: Schema.optionalKey(described(Columns, "Keep n rows per group of these columns")),
      with_ties: described(Schema.optionalKey(Schema.Boolean), "Also keep the rows tied with the n-th on order_by (default false: exactly n)")
    }),
    "Keep the first n rows by order_by (per group of `by` when given); changes the grain. Ties in order_by are broken by arrival, then by the whole row; with_ties: true keeps every row tied with the n-th"
  ),
  aggregate: described(
    Schema.Struct({
      by: Schema.optionalKey(Schema.Array(Expression)),
      metrics: Schema.Record(ColumnKey, Expression)
    }),
    "Group by columns and compute metrics: { by: [...], metrics: { name: sum(x) } }"
  ),
  window: described(Schema.Struct({ column: Column, every: Duration, as: Column }), "Tumbling window: bucket a timestamp column into fixed intervals"),
  sql: described(Expression, "A SQL query over {{ input }} (the previous step) and {{ layer.table }} references")
} as const

export type StepKind = keyof typeof Steps
export const stepKinds = Object.keys(Steps) as ReadonlyArray<StepKind>

export const Step = described(
  Schema.Union([
    Schema.Struct({ select: Steps.select }),
    Schema.Struct({ drop: Steps.drop }),
    Schema.Struct({ rename: Steps.rename }),
    Schema.Struct({ cast: Steps.cast }),
    Schema.Struct({ trim: Steps.trim }),
    Schema.Struct({ lowercase: Steps.lowercase }),
    Schema.Struct({ uppercase: Steps.uppercase }),
    Schema.Struct({ fill_nulls: Steps.fill_nulls }),
    Schema.Struct({ drop_nulls: Steps.drop_nulls }),
    Schema.Struct({ dedupe: Steps.dedupe }),
    Schema.Struct({ filter: Steps.filter }),
    Schema.Struct({ derive: Steps.derive }),
    Schema.Struct({ mask: Steps.mask }),
    Schema.Struct({ join: Steps.join }),
    Schema.Struct({ top: Steps.top }),
    Schema.Struct({ aggregate: Steps.aggregate }),
    Schema.Struct({ window: Steps.window }),
    Schema.Struct({ sql: Steps.sql })
  ]),
  "One transform step, e.g. `dedupe: { keys: [id] }`"
)
export type Step = typeof Step.Type

// ---------------------------------------------------------------------------------------------
// Expectations

const expectationCommon = {
  name: Schema.optionalKey(Schema.NonEmptyString),
  on_fail: Schema.optionalKey(OnFail)
}
const Expectations = {
  check: Expression,
  not_null: Columns,
  unique: Columns,
  accepted_values: Schema.Struct({ column: Column, values: Schema.NonEmptyArray(Scalar) }),
  relationships: Schema.Struct({ column: Column, to: TableRef, field: Column })
} as const
export type ExpectationKind = keyof typeof Expectations
export const expectationKinds = Object.keys(Expectations) as ReadonlyArray<ExpectationKind>

export const Expectation = described(
  Schema.Union([
    Schema.Struct({ check: Expectations.check, ...expectationCommon }),
    Schema.Struct({ not_null: Expectations.not_null, ...expectationCommon }),
    Schema.Struct({ unique: Expectations.unique, ...expectationCommon }),
    Schema.Struct({ accepted_values: Expectations.accepted_values, ...expectationCommon }),
    Schema.Struct({ relationships: Expectations.relationships, ...expectationCommon })
  ]),
  "A data quality rule: check, not_null, unique, accepted_values or relationships, with on_fail"
)
export type Expectation = typeof Expectation.Type

// ---------------------------------------------------------------------------------------------
// Tables and targets

export const Retry = Schema.Struct({
  attempts: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 })),
  backoff: Schema.optionalKey(Schema.Literals(["exponential", "fixed"])),
  initial: Schema.optionalKey(Duration),
  max: Schema.optionalKey(Duration),
  jitter: Schema.optionalKey(Schema.Boolean)
})
export type Retry = typeof Retry.Type

export const Target = Schema.Union([
  Schema.Struct({ parquet: Schema.NonEmptyString, partition_by: Schema.optionalKey(Columns) }),
  Schema.Struct({ csv: Schema.NonEmptyString, partition_by: Schema.optionalKey(Columns) })
])
export type Target = typeof Target.Type

export const Mode = Schema.Literals(["replace", "append", "merge", "view"])
export type Mode = typeof Mode.Type

export const BronzeTable = Schema.Struct({
  from: described(Schema.NonEmptyString, "The name of a source of this pipeline"),
  mode: Schema.optionalKey(Schema.Literals(["replace", "append"])),
  retry: Schema.optionalKey(Retry),
  timeout: Schema.optionalKey(Duration),
  description: Schema.optionalKey(Schema.String)
})
export type BronzeTable = typeof BronzeTable.Type

export const Table = Schema.Struct({
  from: Schema.optionalKey(TableRef),
  sql: Schema.optionalKey(described(Expression, "A query with {{ layer.table }} references; instead of from")),
  transforms: Schema.optionalKey(Schema.Array(Step)),
  expect: Schema.optionalKey(Schema.Array(Expectation)),
  mode: Schema.optionalKey(Mode),
  key: Schema.optionalKey(described(Columns, "mode: merge: the columns that identify a row")),
  sequence_by: Schema.optionalKey(described(Column, "mode: merge (required): the column that orders versions of a row; an older row never replaces a newer one")),
  targets: Schema.optionalKey(Schema.Array(Target)),
  retry: Schema.optionalKey(Retry),
  timeout: Schema.optionalKey(Duration),
  description: Schema.optionalKey(Schema.String)
})
export type Table = typeof Table.Type

/** Names of pipelines, sources and tables: SQL identifiers that need no quoting. */
export const namePattern = /^[A-Za-z_][A-Za-z0-9_]*$/
const TableName = Schema.String.check(Schema.isPattern(namePattern))

export const Pipeline = Schema.Struct({
  $schema: Schema.optionalKey(Schema.String),
  version: Schema.Literal(1),
  pipeline: described(TableName, "The pipeline's name, unique across files"),
  description: Schema.optionalKey(Schema.String),
  schedule: Schema.optionalKey(
    described(
      Schema.Struct({
        cron: described(Schema.NonEmptyString, "When `medallion serve` runs the pipeline: five cron fields (minute hour day month weekday), or six with seconds first"),
        timezone: Schema.optionalKey(described(Schema.String, "IANA time zone of the cron fields, e.g. Europe/Berlin (default UTC)")),
        catch_up: Schema.optionalKey(
          described(Schema.Boolean, "Run once when `medallion serve` starts if the latest scheduled time passed while no server was running (default false)")
        )
      }),
      "Run on a cron schedule while `medallion serve` runs; a firing while the previous run is still going is skipped"
    )
  ),
  retry: Schema.optionalKey(Retry),
  timeout: Schema.optionalKey(described(Duration, "Time limit for each table of this pipeline (a table's own timeout wins)")),
  // Keys are plain strings so that editors get the value schema; the planner checks the names.
  sources: Schema.optionalKey(Schema.Record(Schema.String, Source)),
  bronze: Schema.optionalKey(Schema.Record(Schema.String, BronzeTable)),
  silver: Schema.optionalKey(Schema.Record(Schema.String, Table)),
  gold: Schema.optionalKey(Schema.Record(Schema.String, Table))
}).annotate({ title: "medallion pipeline", description: "A medallion pipeline: sources, bronze, silver and gold tables" })
export type Pipeline = typeof Pipeline.Type

export const layers = ["bronze", "silver", "gold"] as const
export type Layer = (typeof layers)[number]
