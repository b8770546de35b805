/**
 * The REST API's contract: every route with the schemas of its request and response, its errors
 * (problems.ts), the security schemes and scopes, and the OpenAPI description. Shared by the server
 * (server.ts implements it) and any typed client; no handlers and no I/O here.
 *
 * Scopes: `read` for every GET, `run` to start a run. /health needs no credentials.
 */
import { Context, Schema, SchemaTransformation } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware, HttpApiSchema, HttpApiSecurity, OpenApi } from "effect/http-api"
import { ExpectationResult, RunRecord, TableRecord } from "../metadata/MetadataStore.ts"
import { PipelineRunMetrics, PipelineTotals } from "../metadata/RunHistory.ts"
import { valueShapesDescription } from "./values.ts"
import {
  CursorExpired,
  Forbidden,
  HealthChecks,
  Internal,
  InvalidRequest,
  PipelineNotFound,
  RunInProgress,
  RunNotFound,
  TableNotFound,
  Unauthorized,
  Unavailable,
  Unhealthy
} from "./problems.ts"

// ---------------------------------------------------------------------------------------------
// Security

export type Scope = "read" | "run"

/** Who made the request, once authenticated; everyone (all scopes) when auth is off. */
export class Caller extends Context.Service<
  Caller,
  {
    readonly subject: string
    readonly method: "jwt" | "api-key" | "none"
    readonly scopes: ReadonlySet<string>
  }
>()("medallion/api/Caller") {}

/** The scope an endpoint needs (an endpoint annotation; `read` unless set). */
export const RequiredScope = Context.Reference<Scope>("medallion/api/RequiredScope", { defaultValue: () => "read" })

/** Bearer JWT (HS256 secret or JWKS) or an API key in the X-API-Key header. */
export class Authentication extends HttpApiMiddleware.Service<Authentication, { provides: Caller }>()("medallion/api/Authentication", {
  security: {
    bearer: HttpApiSecurity.bearer.pipe(
      HttpApiSecurity.annotate(OpenApi.Description, "A JWT (HS256, or RS256/ES256 from the configured JWKS) with `read` and/or `run` in its space-separated `scope` claim"),
      HttpApiSecurity.annotate(OpenApi.Format, "JWT")
    ),
    apiKey: HttpApiSecurity.apiKey({ key: "X-API-Key", in: "header" }).pipe(
      HttpApiSecurity.annotate(OpenApi.Description, "An API key from the server's config, with the scopes given there")
    )
  },
  error: [Unauthorized, Forbidden]
}) {}

/** Turns request decoding failures into InvalidRequest problems that name the parameter. */
export class RequestValidation extends HttpApiMiddleware.Service<RequestValidation>()("medallion/api/RequestValidation", {
  error: [InvalidRequest, Internal]
}) {}

// ---------------------------------------------------------------------------------------------
// Shared shapes

const Text = Schema.String
const Count = Schema.Number
const Timestamp = Schema.String.annotate({ description: "ISO 8601, UTC" })
/** A page size or offset in a query string: digits only. */
const QueryInt = (maximum: number, description: string) =>
  // Described on the encoded side: the text is what the OpenAPI document shows.
  Schema.String.check(Schema.isPattern(/^\d{1,9}$/, { message: "expected a whole number" }))
    .annotate({ description })
    .pipe(
      Schema.decodeTo(
        Schema.Int.check(Schema.isBetween({ minimum: 0, maximum })),
        SchemaTransformation.transform({ decode: (s: string) => Number(s), encode: (n: number) => String(n) })
      )
    )

const BatchId = Schema.String.annotate({ description: "A run's batch id: its start time in UTC and 32 random bits, e.g. 20261126T160455123Z-9f3a01c2" })

// ---------------------------------------------------------------------------------------------
// Health

const Health = Schema.Struct({
  status: Schema.Literal("ok"),
  checks: HealthChecks
})

// ---------------------------------------------------------------------------------------------
// Metrics

const PipelineMetricsView = Schema.Struct({
  pipeline: Text,
  latest_run: Schema.NullOr(PipelineRunMetrics),
  totals: Schema.NullOr(PipelineTotals.mapFields(({ pipeline: _, ...fields }) => fields))
})
const MetricsView = Schema.Struct({
  pipelines: Schema.Array(PipelineMetricsView),
  prometheus: Text.annotate({ description: "Where the runtime's metrics are in Prometheus text format" })
})

// ---------------------------------------------------------------------------------------------
// Gold

const Column = Schema.Struct({
  name: Text,
  type: Text.annotate({ description: "The warehouse's type name, e.g. BIGINT or DECIMAL(18,2); it decides how the column's values are written (see rows)" }),
  nullable: Schema.Boolean
})
const Refresh = Schema.Struct({ batch_id: BatchId, finished_at: Schema.NullOr(Timestamp) })

const GoldTable = Schema.Struct({
  name: Text.annotate({ description: "The table's name, as used in /gold/{table}" }),
  id: Text.annotate({ description: "layer.table" }),
  pipeline: Text,
  description: Schema.NullOr(Text),
  mode: Text,
  columns: Schema.Array(Column),
  row_count: Count,
  last_refresh: Schema.NullOr(Refresh)
})
const GoldTables = Schema.Struct({ tables: Schema.Array(GoldTable) })

const maxOffset = 100_000_000
/** Longest cursor accepted: as long as a request target may be (config.ts, maxUrlLength). */
const maxCursorLength = 8192

const GoldQuery = {
  // Checked against api.max_limit by the handler, so that the problem names the configured maximum.
  limit: Schema.optionalKey(
    QueryInt(
      999_999_999,
      "Rows per page: default 100 (or the cursor's), at most the server's api.max_limit (1000 unless configured); a larger limit is a 400 invalid-request that names the maximum, never silently lowered"
    )
  ),
  offset: Schema.optionalKey(QueryInt(maxOffset, "Rows to skip; not with cursor")),
  cursor: Schema.optionalKey(
    Text.check(Schema.isMaxLength(maxCursorLength)).annotate({
      description:
        "next_cursor of the previous page; not with offset. It carries the filters, order_by and limit it was issued for, so `?cursor=` alone continues the same listing; filters or order_by sent with it must be the same ones (else 400), and limit may change the page size"
    })
  ),
  order_by: Schema.optionalKey(
    Text.check(Schema.isMaxLength(1024)).annotate({
      description: "Comma-separated columns, each optionally .asc or .desc (or prefixed with -), e.g. revenue.desc,country"
    })
  )
}

const GoldRows = Schema.Struct({
  table: Text,
  columns: Schema.Array(Column),
  rows: Schema.Array(Schema.Record(Schema.String, Schema.Json)).annotate({ description: valueShapesDescription }),
  limit: Count,
  offset: Count,
  next_cursor: Schema.NullOr(Text).annotate({ description: "Pass as ?cursor= for the next page; null on the last page" })
})

const goldFilterHelp = [
  "Filters: any other query parameter names a column of the table and is matched against its type:",
  "`country=US` (equal), `revenue[gte]=100`, and `[eq]`, `[ne]`, `[gt]`, `[gte]`, `[lt]`, `[lte]`,",
  "`[in]` (comma-separated, e.g. `country[in]=US,FR`) and `[is_null]` (`true` or `false`).",
  "Several filters combine with AND. Unknown columns, operators or values of the wrong type are a 400."
].join(" ")

// ---------------------------------------------------------------------------------------------
// Pipelines and runs

const ScheduleEvent = Schema.Struct({
  at: Timestamp,
  scheduled_for: Timestamp,
  trigger: Schema.Literals(["schedule", "catch-up"]),
  outcome: Schema.Literals(["submitted", "skipped"]),
  batch_id: Schema.NullOr(BatchId),
  reason: Schema.NullOr(Text)
})
const ScheduleView = Schema.Struct({
  cron: Text,
  timezone: Text,
  catch_up: Schema.Boolean,
  next_run: Timestamp,
  recent: Schema.Array(ScheduleEvent)
})
const ActiveRunView = Schema.Struct({
  batch_id: BatchId,
  state: Schema.Literals(["queued", "running"]),
  trigger: Schema.Literals(["api", "schedule", "catch-up"]),
  submitted_at: Timestamp,
  started_at: Schema.NullOr(Timestamp)
})
const PipelineSummary = Schema.Struct({
  name: Text,
  description: Schema.NullOr(Text),
  file: Text,
  tables: Schema.Array(Text),
  schedule: Schema.NullOr(ScheduleView),
  active_run: Schema.NullOr(ActiveRunView),
  last_run: Schema.NullOr(PipelineRunMetrics)
})
const DagNode = Schema.Struct({
  id: Text,
  layer: Schema.Literals(["bronze", "silver", "gold"]),
  mode: Text,
  depends_on: Schema.Array(Text),
  location: Text.annotate({ description: "file:line:col of its declaration" })
})
const PipelineDetail = Schema.Struct({
  ...PipelineSummary.fields,
  dag: Schema.Struct({
    nodes: Schema.Array(DagNode),
    edges: Schema.Array(Schema.Struct({ from: Text, to: Text }))
  })
})
const Pipelines = Schema.Struct({ pipelines: Schema.Array(PipelineSummary) })

const RunStatus = Schema.Literals(["queued", "running", "succeeded", "failed", "cancelled", "crashed"])
const RunView = Schema.Struct({
  ...RunRecord.fields,
  status: RunStatus,
  started_at: Schema.NullOr(Timestamp)
})
const Runs = Schema.Struct({
  runs: Schema.Array(RunView),
  next_before: Schema.NullOr(BatchId).annotate({ description: "Pass as ?before= for older runs; null when there are none" })
})
const RunDetail = Schema.Struct({
  run: RunView,
  tables: Schema.Array(TableRecord),
  expectations: Schema.Array(Schema.Struct({ table: Text, ...ExpectationResult.fields }))
})

const RunTriggerRequest = Schema.Struct({
  full_refresh: Schema.optionalKey(Schema.Boolean.annotate({ description: "Rebuild the pipeline's tables from all their input" }))
})
const RunAccepted = Schema.Struct({
  batch_id: BatchId,
  pipeline: Text,
  state: Schema.Literals(["queued", "running"]),
  trigger: Schema.Literal("api"),
  submitted_at: Timestamp,
  run: Text.annotate({ description: "The run's URL: GET it to follow the run" })
}).pipe(HttpApiSchema.status(202))

// ---------------------------------------------------------------------------------------------
// Groups

const PipelineName = Text.check(Schema.isMaxLength(256))

class SystemGroup extends HttpApiGroup.make("system").add(
  HttpApiEndpoint.get("health", "/health", { success: Health, error: Unhealthy }).annotate(
    OpenApi.Description,
    "Whether the executor and the metadata store answer; 503 names the part that failed. Needs no credentials."
  )
) {}

class MetricsGroup extends HttpApiGroup.make("metrics")
  .add(
    HttpApiEndpoint.get("metrics", "/metrics", {
      success: [MetricsView, Schema.String.pipe(HttpApiSchema.asText({ contentType: "text/plain; version=0.0.4" }))],
      error: Unavailable
    }).annotate(
      OpenApi.Description,
      "Per pipeline, the metrics of its latest run (the seed's PipelineMetrics) and its totals, as JSON. With `Accept: text/plain` or `application/openmetrics-text` (what Prometheus sends), the runtime's metrics in Prometheus text format instead; also always at /metrics/prometheus."
    ),
    HttpApiEndpoint.get("prometheus", "/metrics/prometheus", {
      success: Schema.String.pipe(HttpApiSchema.asText({ contentType: "text/plain; version=0.0.4" }))
    }).annotate(OpenApi.Description, "The runtime's metrics (rows processed, quarantined and dropped, table and run durations, runs, scheduled firings) in Prometheus text format")
  )
  .middleware(Authentication) {}

class GoldGroup extends HttpApiGroup.make("gold")
  .add(
    HttpApiEndpoint.get("tables", "/gold", { success: GoldTables, error: Unavailable }).annotate(
      OpenApi.Description,
      "The gold tables of the served pipelines that exist in the warehouse: columns and types, row counts and the last run that refreshed each"
    ),
    HttpApiEndpoint.get("rows", "/gold/:table", {
      params: { table: Text },
      query: GoldQuery,
      success: GoldRows,
      error: [TableNotFound, InvalidRequest, CursorExpired, Unavailable]
    }).annotate(OpenApi.Description, `Rows of a gold table, a page at a time. ${goldFilterHelp}`)
  )
  .middleware(Authentication) {}

class PipelinesGroup extends HttpApiGroup.make("pipelines")
  .add(
    HttpApiEndpoint.get("list", "/pipelines", { success: Pipelines, error: Unavailable }).annotate(
      OpenApi.Description,
      "The served pipelines, with their schedule, next run time, active run and latest run"
    ),
    HttpApiEndpoint.get("get", "/pipelines/:name", { params: { name: PipelineName }, success: PipelineDetail, error: [PipelineNotFound, Unavailable] }).annotate(
      OpenApi.Description,
      "One pipeline: its DAG of tables, schedule (with recent firings and skips), active run and latest run"
    ),
    HttpApiEndpoint.post("trigger", "/pipelines/:name/runs", {
      params: { name: PipelineName },
      // Null as its own member: an empty body then decodes as null (no options).
      payload: [RunTriggerRequest, Schema.Null],
      success: RunAccepted,
      error: [PipelineNotFound, RunInProgress, Unavailable]
    })
      .annotate(RequiredScope, "run")
      .annotate(HttpApi.PayloadParseOptions, { onExcessProperty: "error" })
      .annotate(
        OpenApi.Description,
        "Start a run of the pipeline's tables (scope `run`). Answers 202 at once with the run's batch id; 409 when the pipeline is already queued or running. Runs go one at a time, in order."
      )
  )
  .middleware(Authentication) {}

export const maxRunsLimit = 1000

const RunsQuery = {
  pipeline: Schema.optionalKey(PipelineName),
  status: Schema.optionalKey(RunStatus),
  limit: Schema.optionalKey(QueryInt(999_999_999, `Runs per page: default 50, at most ${maxRunsLimit}; a larger limit is a 400 invalid-request that names the maximum`)),
  before: Schema.optionalKey(Text.check(Schema.isMaxLength(64)).annotate({ description: "next_before of the previous page" }))
}

class RunsGroup extends HttpApiGroup.make("runs")
  .add(
    HttpApiEndpoint.get("list", "/runs", { query: RunsQuery, success: Runs, error: [InvalidRequest, Unavailable] }).annotate(
      OpenApi.Description,
      "Runs, newest first; filter by pipeline and status. Queued and running runs of this server come first."
    ),
    HttpApiEndpoint.get("get", "/runs/:batch_id", { params: { batch_id: Text.check(Schema.isMaxLength(64)) }, success: RunDetail, error: [RunNotFound, Unavailable] }).annotate(
      OpenApi.Description,
      "One run: its metrics, per-table counts and expectation results"
    )
  )
  .middleware(Authentication) {}

/** The version of this contract, in the OpenAPI document's info.version; changes are listed in its description. */
const apiVersion = "2"

export class Api extends HttpApi.make("medallion")
  .add(SystemGroup, MetricsGroup, GoldGroup, PipelinesGroup, RunsGroup)
  .middleware(RequestValidation)
  .annotateMerge(
    OpenApi.annotations({
      title: "medallion",
      version: apiVersion,
      description: [
        "Gold tables, run history and runs of medallion pipelines. Errors are RFC 9457 problem details (application/problem+json) with a stable `type` per kind of error.",
        "",
        "Changes in version 2 (from 1):",
        "- Gold rows: integers are JSON numbers within ±(2^53 - 1) and strings only beyond it (they were all strings for BIGINT and HUGEINT); DECIMAL values are numbers up to 15 significant digits; timestamps are ISO 8601 (`2024-05-02T00:00:00`; `Z` for TIMESTAMP WITH TIME ZONE) instead of `2024-05-02 00:00:00`. See the `rows` schema of GET /gold/{table}.",
        "- Cursors carry their filters, order_by and limit: `?cursor=` alone continues the listing. Filters or order_by other than the cursor's are a 400; cursors issued by version 1 are a 409 cursor-expired.",
        "- A `limit` above the maximum (api.max_limit for gold, 1000 for runs) is a 400 invalid-request naming the maximum; gold used to lower it silently. `limit=0` is a 400 on /runs too (it gave one run).",
        "- `success_rate` (runs and metrics) is null for a run with no rows in; it was 1.",
        "- /health names the part that failed without the engine's message (which goes to the server log)."
      ].join("\n")
    })
  ) {}
