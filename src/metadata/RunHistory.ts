/**
 * Reading the run history for the API: runs filtered by pipeline and status, one run, the latest
 * run of each pipeline, per-pipeline totals and when each table last succeeded. Read-only queries
 * over the `_medallion` tables that SqlMetadataStore writes; values are bound as parameters,
 * never spliced into the statement. Writing the history stays with MetadataStore.
 */
import { Context, Effect, Layer, Schema } from "effect"
import { Executor, ExecutorError, type Param, QueryFailed, type Row } from "../executor/Executor.ts"
import { CommaList, RunRecord, successRate } from "./MetadataStore.ts"

type RunStatus = RunRecord["status"]

export interface RunFilter {
  readonly pipeline?: string | undefined
  readonly status?: RunStatus | undefined
  /** Only runs whose batch id sorts before this one (the next page of a listing). */
  readonly before?: string | undefined
  readonly limit: number
}

/** Runs and rows of one pipeline over the whole history. */
export const PipelineTotals = Schema.Struct({
  pipeline: Schema.String,
  runs: Schema.Number,
  succeeded: Schema.Number,
  failed: Schema.Number,
  cancelled: Schema.Number,
  crashed: Schema.Number,
  running: Schema.Number,
  records_in: Schema.Number,
  records_out: Schema.Number,
  quarantined: Schema.Number,
  dropped: Schema.Number,
  failed_tables: Schema.Number
})
export type PipelineTotals = typeof PipelineTotals.Type

/** The seed's PipelineMetrics of one pipeline in one run: sums over that pipeline's tables. */
export const PipelineRunMetrics = Schema.Struct({
  batch_id: Schema.String,
  status: RunRecord.fields.status,
  started_at: Schema.String,
  finished_at: Schema.NullOr(Schema.String),
  records_in: Schema.Number,
  records_out: Schema.Number,
  duration_seconds: Schema.Number,
  errors: Schema.Number,
  success_rate: Schema.NullOr(Schema.Number).annotate({ description: "records_out / records_in; null when no row came in" }),
  throughput: Schema.Number
})
export type PipelineRunMetrics = typeof PipelineRunMetrics.Type

export interface TableRefresh {
  readonly batch_id: string
  readonly finished_at: string | null
}

export class RunHistory extends Context.Service<
  RunHistory,
  {
    readonly runs: (filter: RunFilter) => Effect.Effect<ReadonlyArray<RunRecord>, ExecutorError>
    readonly run: (batchId: string) => Effect.Effect<RunRecord | undefined, ExecutorError>
    /** Per pipeline, the metrics of its latest run (runs that have not finished count with what they have). */
    readonly latest: Effect.Effect<ReadonlyMap<string, PipelineRunMetrics>, ExecutorError>
    readonly totals: Effect.Effect<ReadonlyArray<PipelineTotals>, ExecutorError>
    /** When each of these tables last succeeded (was written or found unchanged) in a finished run. */
    readonly lastRefreshed: (tables: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, TableRefresh>, ExecutorError>
    /** The start of the latest run that included the pipeline, as epoch millis. */
    readonly lastStarted: (pipeline: string) => Effect.Effect<number | undefined, ExecutorError>
  }
>()("medallion/metadata/RunHistory") {}

// Timestamps as ISO 8601 in UTC, whatever the session's time zone.
const iso = (column: string) => `strftime(${column} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ')`
const runColumns = `batch_id, pipelines, env, engine, ${iso("started_at")} AS started_at, ${iso("finished_at")} AS finished_at, status,
  records_in, records_out, duration_seconds, errors, success_rate, throughput, coalesce(unchanged_tables, '') AS unchanged_tables`
// The pipelines of a run are stored comma-joined; this matches one of them exactly.
const includesPipeline = (param: string) => `list_contains(string_split(pipelines, ','), ${param})`

const Count = Schema.Union([Schema.Number, Schema.NumberFromString])
const RunRow = Schema.Struct({
  ...RunRecord.fields,
  pipelines: CommaList,
  unchanged_tables: CommaList,
  records_in: Count,
  records_out: Count,
  errors: Count
})
const TotalsRow = Schema.Struct(
  Object.fromEntries(Object.entries(PipelineTotals.fields).map(([k, v]) => [k, k === "pipeline" ? v : Count])) as {
    readonly [K in keyof typeof PipelineTotals.fields]: K extends "pipeline" ? typeof Schema.String : typeof Count
  }
)
const LatestRow = Schema.Struct({
  ...PipelineRunMetrics.mapFields(({ success_rate: _, throughput: __, ...fields }) => fields).fields,
  pipeline: Schema.String,
  records_in: Count,
  records_out: Count,
  errors: Count,
  duration_seconds: Count
})
const RefreshRow = Schema.Struct({ table_id: Schema.String, batch_id: Schema.String, finished_at: Schema.NullOr(Schema.String) })
const StartedRow = Schema.Struct({ started_ms: Schema.NullOr(Count) })

const decodeRows =
  <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S) =>
  (rows: ReadonlyArray<Row>) =>
    Schema.decodeUnknownEffect(Schema.Array(schema))(rows, { onExcessProperty: "ignore" }).pipe(
      Effect.mapError((e) => new ExecutorError({ statement: "(reading _medallion)", reason: new QueryFailed({ detail: `unexpected run history row: ${e.message}` }) }))
    )

// The rate from the counts, so that runs stored when no rows in meant a rate of 1 read as null too.
const decodeRuns = (rows: ReadonlyArray<Row>) =>
  decodeRows(RunRow)(rows).pipe(Effect.map((runs) => runs.map((r): RunRecord => ({ ...r, success_rate: successRate(r.records_in, r.records_out) }))))

const make = Effect.gen(function* () {
  const executor = yield* Executor
  const query = (sql: string, params: ReadonlyArray<Param>) =>
    executor.withSession((s) =>
      s.queryWith === undefined
        ? Effect.fail(new ExecutorError({ statement: sql, reason: new QueryFailed({ detail: `the ${executor.engine} executor cannot bind parameters` }) }))
        : s.queryWith(sql, params)
    )

  const runs = (filter: RunFilter) => {
    const where: Array<string> = []
    const params: Array<Param> = []
    const bind = (value: Param) => {
      params.push(value)
      return `$${params.length}`
    }
    if (filter.pipeline !== undefined) where.push(includesPipeline(bind(filter.pipeline)))
    if (filter.status !== undefined) where.push(`status = ${bind(filter.status)}`)
    if (filter.before !== undefined) where.push(`batch_id < ${bind(filter.before)}`)
    const limit = bind(Math.max(1, Math.floor(filter.limit)))
    return query(`SELECT ${runColumns} FROM _medallion.runs ${where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`} ORDER BY batch_id DESC LIMIT ${limit}`, params).pipe(
      Effect.flatMap(decodeRuns)
    )
  }

  return RunHistory.of({
    runs,
    run: (batchId) =>
      query(`SELECT ${runColumns} FROM _medallion.runs WHERE batch_id = $1`, [batchId]).pipe(
        Effect.flatMap(decodeRuns),
        Effect.map((rows) => rows[0])
      ),
    latest: query(
      `WITH per_run AS (
         SELECT unnest(string_split(pipelines, ',')) AS pipeline, batch_id, status, started_at, finished_at, duration_seconds FROM _medallion.runs
       ), latest AS (
         SELECT * FROM per_run QUALIFY row_number() OVER (PARTITION BY pipeline ORDER BY batch_id DESC) = 1
       )
       SELECT l.pipeline, l.batch_id, l.status, ${iso("l.started_at")} AS started_at, ${iso("l.finished_at")} AS finished_at,
              coalesce(l.duration_seconds, 0) AS duration_seconds,
              coalesce(sum(t.rows_in), 0) AS records_in, coalesce(sum(t.rows_out), 0) AS records_out,
              count(t.table_id) FILTER (WHERE t.status = 'failed') AS errors
       FROM latest l LEFT JOIN _medallion.run_tables t ON t.batch_id = l.batch_id AND t.pipeline = l.pipeline
       GROUP BY l.pipeline, l.batch_id, l.status, l.started_at, l.finished_at, l.duration_seconds ORDER BY l.pipeline`,
      []
    ).pipe(
      Effect.flatMap(decodeRows(LatestRow)),
      Effect.map(
        (rows) =>
          new Map(
            rows.map(({ pipeline, ...m }) => [
              pipeline,
              {
                ...m,
                success_rate: successRate(m.records_in, m.records_out),
                throughput: m.duration_seconds === 0 ? 0 : m.records_in / m.duration_seconds
              }
            ])
          )
      )
    ),
    totals: query(
      `WITH per_run AS (
         SELECT unnest(string_split(pipelines, ',')) AS pipeline, batch_id, status FROM _medallion.runs
       ), tables AS (
         SELECT pipeline, sum(rows_in) AS records_in, sum(rows_out) AS records_out, sum(quarantined) AS quarantined,
                sum(dropped) AS dropped, count(*) FILTER (WHERE status = 'failed') AS failed_tables
         FROM _medallion.run_tables GROUP BY pipeline
       )
       SELECT r.pipeline, count(*) AS runs,
              count(*) FILTER (WHERE r.status = 'succeeded') AS succeeded, count(*) FILTER (WHERE r.status = 'failed') AS failed,
              count(*) FILTER (WHERE r.status = 'cancelled') AS cancelled, count(*) FILTER (WHERE r.status = 'crashed') AS crashed,
              count(*) FILTER (WHERE r.status = 'running') AS running,
              coalesce(any_value(t.records_in), 0) AS records_in, coalesce(any_value(t.records_out), 0) AS records_out,
              coalesce(any_value(t.quarantined), 0) AS quarantined, coalesce(any_value(t.dropped), 0) AS dropped,
              coalesce(any_value(t.failed_tables), 0) AS failed_tables
       FROM per_run r LEFT JOIN tables t USING (pipeline)
       GROUP BY r.pipeline ORDER BY r.pipeline`,
      []
    ).pipe(Effect.flatMap(decodeRows(TotalsRow))),
    lastRefreshed: (tables) =>
      tables.length === 0
        ? Effect.succeed(new Map())
        : query(
            // Found unchanged: named on the run (or, before version 2 of the store, a run_tables row).
            `WITH refreshed AS (
           SELECT table_id, batch_id FROM _medallion.run_tables WHERE status IN ('succeeded', 'unchanged')
           UNION ALL
           SELECT unnest(string_split(unchanged_tables, ',')) AS table_id, batch_id FROM _medallion.runs WHERE unchanged_tables <> ''
         )
         SELECT t.table_id, r.batch_id, ${iso("r.finished_at")} AS finished_at
         FROM refreshed t JOIN _medallion.runs r USING (batch_id)
         QUALIFY row_number() OVER (PARTITION BY t.table_id ORDER BY r.batch_id DESC) = 1`,
            []
          ).pipe(
            Effect.flatMap(decodeRows(RefreshRow)),
            Effect.map((rows) => {
              const wanted = new Set(tables)
              return new Map(rows.filter((r) => wanted.has(r.table_id)).map((r) => [r.table_id, { batch_id: r.batch_id, finished_at: r.finished_at }]))
            })
          ),
    lastStarted: (pipeline) =>
      query(`SELECT max(epoch_ms(started_at)) AS started_ms FROM _medallion.runs WHERE ${includesPipeline("$1")}`, [pipeline]).pipe(
        Effect.flatMap(decodeRows(StartedRow)),
        Effect.map((rows) => rows[0]?.started_ms ?? undefined)
      )
  })
})

export const layer = Layer.effect(RunHistory, make)
